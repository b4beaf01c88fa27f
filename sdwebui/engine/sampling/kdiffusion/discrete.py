"""The noise levels of a model trained on 1000 discrete timesteps, in k-diffusion's terms (what A1111's
samplers run on): sigma(t) = sqrt((1 - alpha_cumprod[t]) / alpha_cumprod[t]), fractional timesteps
between the trained ones interpolated in log-sigma, and the input/output scalings that turn the UNet's
epsilon or v prediction into the denoised image a sampler steps with."""
from __future__ import annotations

import math

import torch


def ldm_alphas_cumprod(config: dict) -> torch.Tensor:
    """alpha_cumprod as the original LDM code makes it: betas in float64 (sqrt-linear for the SD
    "scaled_linear" schedule), the cumulative product in float64, then float32, as the checkpoint's buffer."""
    n = int(config.get("num_train_timesteps", 1000))
    trained = config.get("trained_betas")
    if trained is not None:
        betas = torch.tensor(trained, dtype=torch.float64)
    else:
        start, end = float(config.get("beta_start", 0.00085)), float(config.get("beta_end", 0.012))
        kind = config.get("beta_schedule", "scaled_linear")
        if kind == "scaled_linear":
            betas = torch.linspace(start ** 0.5, end ** 0.5, n, dtype=torch.float64) ** 2
        elif kind == "linear":
            betas = torch.linspace(start, end, n, dtype=torch.float64)
        else:
            raise ValueError(f"beta_schedule {kind!r} is not supported by the k-diffusion samplers")
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    if config.get("rescale_betas_zero_snr"):
        alphas_cumprod = _zero_terminal_snr(alphas_cumprod)
    return alphas_cumprod.to(torch.float32)


def flow_sigmas(config: dict) -> torch.Tensor:
    """A rectified-flow model's noise levels: SD3's 1000 as A1111's ModelSamplingDiscreteFlow (t = i/1000
    for i = 1..1000 shifted by the model's `shift`: sigma = shift*t / (1 + (shift-1)*t)), FLUX.1's as Forge's."""
    n = int(config.get("num_train_timesteps", 1000))
    if "flux_mu" in config:     # Forge's FLUX.1: n = 10000 levels, sigma = e^mu / (e^mu + 1/t - 1)
        t = torch.arange(1, n + 1, 1) / n
        return math.exp(float(config["flux_mu"])) / (math.exp(float(config["flux_mu"])) + (1 / t - 1))
    shift = float(config.get("shift", 1.0))
    t = torch.arange(1, n + 1, 1) / 1000.0
    return t if shift == 1.0 else shift * t / (1 + (shift - 1) * t)


def model_alphas_cumprod(config: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(alpha_cumprod, sigmas or None) of a model's scheduler config: a flow model's sigmas are its own
    (alpha_cumprod = 1/(1+sigma^2) is what A1111 gives such a model), the others' come from the betas."""
    if config.get("prediction_type") == "flow":
        sigmas = flow_sigmas(config)
        return 1.0 / (1.0 + sigmas * sigmas), sigmas
    return ldm_alphas_cumprod(config), None


def _zero_terminal_snr(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """Rescaled so the last timestep is pure noise (A1111's `sd_noise_schedule` "Zero Terminal SNR"); its
    last value is kept just above 0 so sigma stays finite, as A1111 does (4.8973451890853435e-08)."""
    root = alphas_cumprod.sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * first / (first - last)
    out = root ** 2
    out[-1] = 4.8973451890853435e-08
    return out


class DiscreteSchedule:
    """sigma <-> timestep for a discrete-time model (k-diffusion's DiscreteSchedule). `sigmas` rise with
    the timestep; `quantize` rounds timesteps to trained ones (A1111's `enable_quantization`)."""

    def __init__(self, alphas_cumprod: torch.Tensor, *, quantize: bool = False, sigmas: torch.Tensor | None = None) -> None:
        self.alphas_cumprod = alphas_cumprod.to(torch.float32)
        self.sigmas = ((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5 if sigmas is None else sigmas.float()
        self.log_sigmas = self.sigmas.log()
        self.quantize = quantize

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1]

    def sigma_to_t(self, sigma: torch.Tensor, quantize: bool | None = None) -> torch.Tensor:
        quantize = self.quantize if quantize is None else quantize
        log_sigma = sigma.log()
        log_sigmas = self.log_sigmas.to(log_sigma.device)
        dists = log_sigma - log_sigmas[:, None]
        if quantize:
            return dists.abs().argmin(dim=0).view(sigma.shape)
        low = dists.ge(0).cumsum(dim=0).argmax(dim=0).clamp(max=log_sigmas.shape[0] - 2)
        high = low + 1
        lo, hi = log_sigmas[low], log_sigmas[high]
        w = ((lo - log_sigma) / (lo - hi)).clamp(0, 1)
        return ((1 - w) * low + w * high).view(sigma.shape)

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t).float()
        log_sigmas = self.log_sigmas.to(t.device)
        low, high, w = t.floor().long(), t.ceil().long(), t.frac()
        return ((1 - w) * log_sigmas[low] + w * log_sigmas[high]).exp()

    def uniform_sigmas(self, n: int) -> torch.Tensor:
        """k-diffusion's own schedule: n timesteps evenly from the last to the first, then 0."""
        t = torch.linspace(len(self.sigmas) - 1, 0, n)
        return append_zero(self.t_to_sigma(t))


def append_zero(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, x.new_zeros([1])])


def input_scale(sigma: torch.Tensor, prediction_type: str = "epsilon") -> torch.Tensor:
    """c_in: the UNet sees x / sqrt(sigma^2 + 1), the variance-preserving latent of that noise level; a
    flow model sees x as it is (its x is already (1-sigma)*x0 + sigma*noise)."""
    if prediction_type == "flow":
        return torch.ones_like(sigma)
    return 1 / (sigma ** 2 + 1) ** 0.5


def model_timestep(discrete: "DiscreteSchedule", sigma: torch.Tensor, prediction_type: str) -> torch.Tensor:
    """What the network gets as its timestep: the (fractional) trained timestep of sigma, or for a flow
    model sigma * 1000 (A1111's SD3 model sampling)."""
    if prediction_type == "flow":
        return sigma * 1000.0
    return discrete.sigma_to_t(sigma)


def denoised_from(prediction_type: str, x: torch.Tensor, sigma: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """The denoised latent from the UNet's output at noise level `sigma` (x unscaled, sigma-space):
    epsilon models x - sigma * eps; v models x * c_skip + v * c_out (sigma_data 1); flow models (velocity
    v = noise - x0) x - sigma * v."""
    if prediction_type == "v_prediction":
        s2 = sigma ** 2 + 1
        return x / s2 - out * sigma / s2 ** 0.5
    if prediction_type == "sample":
        return out
    return x - out * sigma
