"""A1111's `modules.sd_models_xl`: its SDXL LDM methods; SDXL checkpoints run as diffusers models here."""
from modules._facade import expose

expose(__name__, extra=[
       ('LatentInpaintDiffusion', 'sdwebui.services.legacy.stubs')])
