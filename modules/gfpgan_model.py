"""A1111's `modules.gfpgan_model`: the GFPGAN face restorer (`sdwebui.services.face_restorers`),
its model from models/GFPGAN."""
from modules._facade import expose

expose(__name__, extra=[
       ('FaceRestorerGFPGAN', 'sdwebui.services.face_restorers'),
       ('gfpgan_fix_faces', 'sdwebui.services.face_restorers'),
       ('gfpgan_face_restorer', 'sdwebui.services.face_restorers'),
       ('setup_model', 'sdwebui.services.face_restorers')])
