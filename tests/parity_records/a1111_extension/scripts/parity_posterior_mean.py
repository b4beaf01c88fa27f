"""Installed into the real A1111 only while its parity records are captured (copy this folder to A1111's
extensions/parity-posterior-mean): A1111 encodes img2img pictures with a *sample* of the VAE posterior drawn
from the unseeded global RNG, so its img2img pictures differ on every run. With the posterior's mean instead
(what this project uses), both sides start from the same latents and can be compared pixel for pixel."""
from ldm.modules.distributions.distributions import DiagonalGaussianDistribution

DiagonalGaussianDistribution.sample = DiagonalGaussianDistribution.mode
