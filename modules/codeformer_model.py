"""A1111's `modules.codeformer_model`: the CodeFormer face restorer (`sdwebui.services.face_restorers`),
its model from models/Codeformer."""
from modules._facade import expose

expose(__name__, extra=[
       ('FaceRestorerCodeFormer', 'sdwebui.services.face_restorers'),
       ('codeformer', 'sdwebui.services.face_restorers'),
       ('setup_model', 'sdwebui.services.face_restorers')])
