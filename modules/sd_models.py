"""A1111's `modules.sd_models`: the checkpoint registry and model manager
(`sdwebui.services.models.checkpoints`) and A1111's module-level functions and tables over the running
app (`sdwebui.services.models.model_names`: `checkpoint_tiles`, `checkpoints_list`, `reload_model_weights` ...)."""
from modules._facade import expose
from modules.shared import app_paths
from sdwebui.services.models import model_names

expose(__name__, 'sdwebui.services.models.checkpoints', 'sdwebui.services.models.model_names', computed={
    "model_path": lambda: str(app_paths().checkpoints),
    "checkpoints_list": model_names.checkpoints_list_now, "checkpoint_aliases": model_names.checkpoint_aliases_now,
    "checkpoint_alisases": model_names.checkpoint_aliases_now})
