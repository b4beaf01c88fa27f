"""A1111's `modules.sd_vae_taesd`: TAESD's `decoder_model()` / `encoder_model()` for the resident model and
the `decoder` / `encoder` builders."""
from modules._facade import expose

expose(__name__, extra=[('decoder_model', 'sdwebui.services.legacy.preview_models'), ('encoder_model', 'sdwebui.services.legacy.preview_models'), ('decoder', 'sdwebui.services.legacy.preview_models'), ('encoder', 'sdwebui.services.legacy.preview_models')])
