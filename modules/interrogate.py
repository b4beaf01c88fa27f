"""A1111's `modules.interrogate`: no CLIP/BLIP interrogator in this backend (`shared.interrogator`
raises an error that says so)."""
from modules._facade import expose

expose(__name__, extra=[
       ('InterrogateModels', 'sdwebui.services.legacy.stubs')])
