"""seq2seq playground on a Hugging Face Space (or `make run`): build the page, serve it. The app is the
`playground` package; the model code is the `seq2seq` library (docs/architecture.md)."""
import playground  # noqa: F401 - first: the environment that keeps gradio offline
from playground.demo import build_demo, launch

demo = build_demo()

if __name__ == "__main__":
    launch(demo)
