"""A1111's `modules.face_restoration`: the face restorer base class and `restore_faces`, over
`shared.face_restorers` (`sdwebui.services.shared_items`)."""
from modules._facade import expose

expose(__name__, extra=[('FaceRestoration', 'sdwebui.services.shared_items'), ('restore_faces', 'sdwebui.services.shared_items')])
