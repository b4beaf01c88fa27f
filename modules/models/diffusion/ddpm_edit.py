"""A1111's `modules.models.diffusion.ddpm_edit` (instruct-pix2pix LDM): not part of this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('LatentInpaintDiffusion', 'sdwebui.services.legacy.stubs')])
