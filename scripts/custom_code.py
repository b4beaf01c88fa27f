"""A1111's "Custom code" script: runs the Python code typed into it as the body of a function with
`p` (the job) and `display(images, seed, info)` in scope; `return process_images(p)` or a call of
display() gives the result. Only with --allow-code: without the flag it is not listed anywhere and
cannot run, since it executes whatever a client sends.

script_args (A1111's order): code, indent_level.
"""
import ast
import logging
from types import ModuleType

import gradio as gr

import modules.scripts as scripts
from modules.processing import Processed
from modules.shared import cmd_opts
from sdwebui.engine.errors import ProcessingError   # a 4xx naming the argument; A1111 has no name for it

logger = logging.getLogger(__name__)

EXAMPLE = """from modules.processing import process_images

p.width = 768
p.height = 768
p.batch_size = 2
p.steps = 10

return process_images(p)
"""


def exec_with_return(code: str, module: ModuleType):
    """Run `code` in `module`'s namespace; the value of its last statement when that is an
    expression (how `__webuitemp__()`'s return value comes back), else None."""
    tree = ast.parse(code)
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr):
        head = ast.Module(body=tree.body[:-1], type_ignores=[])
        exec(compile(head, "<custom code>", "exec"), module.__dict__)
        return eval(compile(ast.Expression(last.value), "<custom code>", "eval"), module.__dict__)
    exec(compile(tree, "<custom code>", "exec"), module.__dict__)
    return None


class Script(scripts.Script):
    def title(self):
        return "Custom code"

    def show(self, is_img2img):
        return bool(getattr(cmd_opts, "allow_code", False))

    def ui(self, is_img2img):
        code = gr.Code(value=EXAMPLE, language="python", label="Python code", elem_id=self.elem_id("code"))
        indent_level = gr.Number(label='Indent level', value=2, precision=0, elem_id=self.elem_id("indent_level"))
        return [code, indent_level]

    def run(self, p, code, indent_level):
        if not getattr(cmd_opts, "allow_code", False):
            raise ProcessingError("script_name", "Custom code needs the --allow-code flag", status_code=403)
        shown = {"images": [], "seed": -1, "info": ""}

        def display(imgs, s=-1, i=""):
            shown.update(images=list(imgs), seed=s, info=i)

        module = ModuleType("custom_code")
        module.__dict__.update(globals())
        module.p = p
        module.display = display
        indent = " " * int(indent_level or 0)
        body = "def __webuitemp__():\n" + indent + str(code or "pass").replace("\n", "\n" + indent) + "\n__webuitemp__()"
        try:
            result = exec_with_return(body, module)
        except SyntaxError as e:
            raise ProcessingError("script_args.0", f"the code does not compile (indent level {indent_level}): {e}") \
                from None
        if isinstance(result, Processed):
            return result
        return Processed(p, shown["images"], shown["seed"], shown["info"])
