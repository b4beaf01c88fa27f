"""A1111's `modules.dat_model`: its model files are read by spandrel through the app's upscaler registry here;
`shared.sd_upscalers` lists them (`sdwebui.services.models.upscalers`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('Upscaler', 'sdwebui.services.models.upscalers'),
       ('UpscalerData', 'sdwebui.services.models.upscalers')])
