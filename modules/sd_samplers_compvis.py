"""A1111's `modules.sd_samplers_compvis`: in A1111 1.10 the same module object as
`modules.sd_samplers_timesteps` (an alias set in `sys.modules`), whose `VanillaStableDiffusionSampler`
is `CompVisSampler`; sd-dynamic-thresholding subclasses it at import."""
import sys

from modules import sd_samplers_timesteps

sys.modules[__name__] = sd_samplers_timesteps
