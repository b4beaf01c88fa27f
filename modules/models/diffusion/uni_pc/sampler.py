"""A1111's UniPC LDM sampler: UniPC runs on diffusers' UniPC scheduler here."""
from modules._facade import expose

expose(__name__, extra=[
       ('UniPCSampler', 'sdwebui.services.legacy.samplers')])
