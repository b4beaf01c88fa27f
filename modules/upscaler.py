"""A1111's `modules.upscaler`: `Upscaler`, `UpscalerData` and the built-in upscalers
(`sdwebui.services.models.upscalers`); an extension's subclass joins `shared.sd_upscalers`."""
from modules._facade import expose

expose(__name__, extra=[('Upscaler', 'sdwebui.services.models.upscalers'), ('UpscalerData', 'sdwebui.services.models.upscalers'), ('UpscalerNone', 'sdwebui.services.models.upscalers'), ('UpscalerLanczos', 'sdwebui.services.models.upscalers'), ('UpscalerNearest', 'sdwebui.services.models.upscalers'), ('LANCZOS', 'sdwebui.services.models.upscalers'), ('NEAREST', 'sdwebui.services.models.upscalers')])
