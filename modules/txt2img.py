"""A1111's `modules.txt2img`: the txt2img UI handlers take A1111's UI component order; this UI's
handlers differ, so they are not offered (`sdwebui.services.legacy.stubs`). Build a
`StableDiffusionProcessingTxt2Img` and call `modules.processing.process_images` instead."""
from modules._facade import expose

expose(__name__, extra=[
       ('txt2img', 'sdwebui.services.legacy.stubs'),
       ('txt2img_create_processing', 'sdwebui.services.legacy.stubs'),
       ('txt2img_upscale', 'sdwebui.services.legacy.stubs')])
