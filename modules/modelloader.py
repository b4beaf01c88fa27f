"""A1111's `modules.modelloader`: `load_upscalers` (`sdwebui.services.models.upscalers`), `load_models`
and `friendly_name` (`sdwebui.services.legacy.loading`), and `load_file_from_url`, which works offline
(`sdwebui.services.util`)."""
from modules._facade import expose

expose(__name__, extra=[('load_upscalers', 'sdwebui.services.models.upscalers'), ('load_models', 'sdwebui.services.legacy.loading'), ('friendly_name', 'sdwebui.services.legacy.loading'), ('load_spandrel_model', 'sdwebui.services.legacy.loading'), ('cleanup_models', 'sdwebui.services.legacy.loading'), ('move_files', 'sdwebui.services.legacy.loading'), ('load_file_from_url', 'sdwebui.services.util')])
