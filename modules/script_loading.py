"""A1111's `modules.script_loading`: `load_module` and `preload_extensions`
(`sdwebui.services.legacy.loading`)."""
from modules._facade import expose

expose(__name__, extra=[('load_module', 'sdwebui.services.legacy.loading'), ('preload_extensions', 'sdwebui.services.legacy.loading'), ('loaded_scripts', 'sdwebui.services.legacy.loading')])
