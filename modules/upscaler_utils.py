"""A1111's `modules.upscaler_utils`: upscaling with a spandrel model runs in the app's registry
(`sdwebui.engine.upscalers`); `upscale_with_model` and the tiling helpers are not offered separately."""
from modules._facade import expose

expose(__name__, extra=[
       ('LANCZOS', 'sdwebui.services.models.upscalers'),
       ('NEAREST', 'sdwebui.services.models.upscalers')])
