"""A1111's `modules.sd_samplers` names that extensions read: the tables
(`sdwebui.engine.sampling.samplers.extension_tables`) and the latent-to-image helpers A1111 re-exports
from sd_samplers_common (`sdwebui.services.legacy.samplers`); `create_sampler` raises, as samplers
are diffusers schedulers chosen by name here."""
from modules._facade import expose

_COMMON = "sdwebui.services.legacy.samplers"
expose(__name__, 'sdwebui.engine.sampling.samplers.extension_tables', extra=[
    (name, _COMMON) for name in ("create_sampler", "sample_to_image", "samples_to_image_grid",
                                 "single_sample_to_image", "setup_img2img_steps")])
