"""A1111's `modules.img2img`: as `modules.txt2img` (`sdwebui.services.legacy.stubs`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('img2img', 'sdwebui.services.legacy.stubs'),
       ('process_batch', 'sdwebui.services.legacy.stubs')])
