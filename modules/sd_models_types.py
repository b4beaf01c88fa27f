"""A1111's `modules.sd_models_types`: `WebuiSdModel` is the resident model's class here
(`sdwebui.engine.models.single_file.SDModel`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('WebuiSdModel', 'sdwebui.services.legacy.stubs')])
