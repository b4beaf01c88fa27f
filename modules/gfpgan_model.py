"""A1111's `modules.gfpgan_model`: no face restoration model ships with this backend; an extension may add one to
`shared.face_restorers` (see `modules.face_restoration`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('FaceRestorerGFPGAN', 'sdwebui.services.legacy.stubs'),
       ('gfpgan_fix_faces', 'sdwebui.services.legacy.stubs'),
       ('setup_model', 'sdwebui.services.legacy.stubs')])
