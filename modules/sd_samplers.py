"""A1111's `modules.sd_samplers` names that extensions read: the tables and `create_sampler`
(`sdwebui.engine.sampling.samplers.extension_tables`; the sampler object it makes carries the
`model_wrap_cfg` denoiser the sampling loop computes the guidance with) and the latent-to-image helpers
A1111 re-exports from sd_samplers_common (`sdwebui.services.legacy.samplers`)."""
from modules._facade import expose

_COMMON = "sdwebui.services.legacy.samplers"
expose(__name__, 'sdwebui.engine.sampling.samplers.extension_tables', extra=[
    (name, _COMMON) for name in ("sample_to_image", "samples_to_image_grid",
                                 "single_sample_to_image", "setup_img2img_steps")])
