"""A1111's `modules.sd_vae`: the VAE registry (`sdwebui.services.models.vae_registry`) and A1111's
module-level functions and tables over the running app (`sdwebui.services.models.model_names`)."""
from modules._facade import expose
from sdwebui.services.models import model_names

_NAMES = "sdwebui.services.models.model_names"
expose(__name__, 'sdwebui.services.models.vae_registry', extra=[
    (name, _NAMES) for name in ("refresh_vae_list", "get_loaded_vae_name", "get_loaded_vae_hash",
                                "reload_vae_weights", "load_vae_dict")],
    computed={"vae_dict": model_names.vae_dict_now, "vae_path": model_names.vae_path_now})
