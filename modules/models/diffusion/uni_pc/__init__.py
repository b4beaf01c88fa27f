"""A1111's `modules.models.diffusion.uni_pc`: UniPC runs on diffusers' UniPC scheduler here."""
from modules.models.diffusion.uni_pc.sampler import UniPCSampler  # noqa: F401
