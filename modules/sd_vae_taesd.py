"""A1111's `modules.sd_vae_taesd` (TAESD previews): not part of this backend; live previews use the
latent's colour approximation."""
from modules._facade import expose

expose(__name__, extra=[('decoder_model', 'sdwebui.services.legacy.stubs'), ('encoder_model', 'sdwebui.services.legacy.stubs')])
