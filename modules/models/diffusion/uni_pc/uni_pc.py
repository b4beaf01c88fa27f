"""A1111's UniPC implementation: UniPC runs on diffusers' UniPC scheduler here."""
from modules._facade import expose

expose(__name__, extra=[
       ('UniPC', 'sdwebui.services.legacy.samplers'),
       ('NoiseScheduleVP', 'sdwebui.services.legacy.samplers')])
