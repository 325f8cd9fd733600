"""Command line: ``python -m core train | evaluate | predict | list | import | export-code``.

Errors print one line on stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

from core.classroom.importing import import_model
from core.data.mnist import DataError, load_mnist
from core.drawing.preprocess import canvas_to_mnist
from core.evaluation.evaluate import evaluate
from core.model.config import ACTIVATIONS, OPTIMIZERS, PRESETS, TrainConfig, describe, parse_units, preset
from core.model.predict import predict_proba
from core.model.store import ModelStore, StoreError
from core.tensorflow_import import import_tensorflow
from core.training.estimate import format_estimate
from core.training.export_code import model_script
from core.training.loop import TrainingDiverged, train

EXIT_ERROR = 2
# The most pixels `predict` decodes, read from the file's header first. A 12-megapixel phone photo
# (4000 x 3000) fits; reading an image takes about 36 bytes a pixel on its way to 28 x 28 (583 MB for
# 4096 x 4096, measured; a 10000 x 10000 PNG took 3.6 GB). The pad itself is 280 x 280.
MAX_IMAGE_PIXELS = 4096 * 4096


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise SystemExit(_fail(f"{message} (see {self.prog} --help)"))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ warnings after start-up
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except (DataError, StoreError, TrainingDiverged, ValueError, OSError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        return _fail("interrupted")


def train_command(args) -> int:
    config = preset(args.preset)
    changes = {field: value for field, value in {
        "epochs": args.epochs, "learning_rate": args.lr, "batch_size": args.batch_size,
        "hidden_units": args.hidden, "activation": args.activation, "optimizer": args.optimizer,
        "dropout": args.dropout, "validation_split": args.validation_split, "seed": args.seed,
    }.items() if value is not None}
    config = config.replace(**changes)
    store = ModelStore(args.models_dir)
    if args.save is not None:
        store.path_of(args.save)  # a bad name (also an empty one) fails now, not after training
    data = load_mnist(args.data)
    print(f"data: {data.description}")
    print(f"model: {describe(config)}")
    _import_tensorflow_quietly()
    bar = _ProgressBar()  # prints the estimate too, from the run's first timed steps
    try:
        result = train(config, data, on_progress=bar.draw)
    finally:
        bar.close()
    print(f"trained {result.steps} steps in {result.wall_seconds:.1f} s ({result.samples_per_second:,.0f} samples/s)")
    print(f"Accuracy on training data: {result.train_accuracy:.4f}")
    print(f"Accuracy on test data: {result.test_accuracy:.4f}")
    if args.save is not None:
        info = store.save(args.save, result)
        print(f"saved as {info.name!r} in {store.folder}")
    print(f"test_accuracy={result.test_accuracy:.4f}")
    return 0


def evaluate_command(args) -> int:
    store = ModelStore(args.models_dir)
    store.info(args.model)  # an unknown name fails before TensorFlow loads
    data = load_mnist(args.data)
    _import_tensorflow_quietly()
    report = evaluate(store.load(args.model), data)
    print(f"data: {data.description}")
    print(f"train accuracy: {report.train_accuracy:.4f}")
    print(f"test accuracy: {report.test_accuracy:.4f}")
    print("per-class accuracy (recall):")
    for digit, recall in enumerate(report.recall):
        print(f"  {digit}: {recall:.4f}")
    print(f"test_accuracy={report.test_accuracy:.4f}")
    return 0


def predict_command(args) -> int:
    store = ModelStore(args.models_dir)
    store.info(args.model)
    drawing = _read_image(args.image)
    try:
        digit = canvas_to_mnist(drawing)
    except ValueError as error:
        raise ValueError(f"{args.image}: {error}") from None
    if digit is None:
        raise ValueError(f"{args.image}: the image is blank; draw a digit")
    _import_tensorflow_quietly()
    probabilities = predict_proba(store.load(args.model), digit[None])[0]
    best = int(np.argmax(probabilities))
    print(f"digit: {best} (probability {probabilities[best]:.3f})")
    return 0


def _read_image(path: str) -> np.ndarray:
    """The image file as (H, W, 4) uint8 RGBA, whatever its mode; its size is checked before it is decoded."""
    from PIL import Image

    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file")
    if not os.path.isfile(path):  # a pipe would hang, a device never end
        raise ValueError(f"{path}: not a plain file (a folder, device, pipe or socket); name an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL's notes (a palette's transparency) would add lines
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # reads the header, not the pixels
                width, height = image.size
                if width * height <= MAX_IMAGE_PIXELS:
                    return np.asarray(image.convert("RGBA"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # PIL's own limit, far above ours
        raise ValueError(f"{path}: more than the {MAX_IMAGE_PIXELS:,} pixels this reads; shrink the picture") from None
    except Exception as error:  # PIL's decoders raise OSError, SyntaxError, ValueError, EOFError, struct.error
        raise ValueError(f"{path}: not an image file this can read ({error})") from None
    raise ValueError(f"{path}: {width} x {height} pixels, more than the {MAX_IMAGE_PIXELS:,} this reads; "
                     "shrink the picture (the pad is 280 x 280)")


def list_command(args) -> int:
    listing = ModelStore(args.models_dir).list()
    for info in listing.models:
        print(f"{info.name}\ttest {info.test_accuracy:.4f}\t{info.summary}\t{info.created}")
    for name, problem in listing.problems:
        print(f"skipped {name}: {problem}", file=sys.stderr)
    if not listing.models:
        print("no saved models yet: python -m core train --preset lecture --save lecture")
    return 0


def import_command(args) -> int:
    """Import a .keras file as a saved model, measured on the digits; prints what was found, then its name."""
    store = ModelStore(args.models_dir)
    if args.name is not None:
        store.path_of(args.name)  # a bad name fails before TensorFlow loads
    data = load_mnist(args.data)
    _import_tensorflow_quietly()
    info, found = import_model(args.file, data, store, name=args.name)
    print(f"data: {data.description}")
    print(found)
    print(info.name)
    return 0


def export_code_command(args) -> int:
    """The standalone Keras script of a saved model's run, on stdout or in --out."""
    script = model_script(ModelStore(args.models_dir).info(args.model))
    if args.out is None:
        sys.stdout.write(script)
        return 0
    with open(args.out, "w", encoding="utf-8") as file:
        file.write(script)
    print(f"wrote the code of {args.model!r} to {args.out}: python {args.out} --data mnist_data.npz")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description="Train, evaluate and use MNIST models.")
    commands = parser.add_subparsers(required=True, parser_class=_Parser)
    models_dir = {"default": None, "help": "folder of saved models (default: MNIST_MODELS_DIR or ./models)"}

    train_parser = commands.add_parser("train", help="train a preset, print train and test accuracy")
    train_parser.set_defaults(command=train_command)
    train_parser.add_argument("--preset", choices=list(PRESETS), default="lecture")
    train_parser.add_argument("--epochs", type=_config_value("epochs", int))
    train_parser.add_argument("--lr", type=_config_value("learning_rate", float), help="learning rate")
    train_parser.add_argument("--batch-size", type=_config_value("batch_size", int))
    train_parser.add_argument("--hidden", type=_units, help="hidden layer sizes, e.g. 256,128")
    train_parser.add_argument("--activation", choices=ACTIVATIONS)
    train_parser.add_argument("--optimizer", choices=OPTIMIZERS)
    train_parser.add_argument("--dropout", type=_config_value("dropout", float))
    train_parser.add_argument("--validation-split", type=_config_value("validation_split", float))
    train_parser.add_argument("--seed", type=_config_value("seed", int))
    train_parser.add_argument("--data", help="MNIST npz file or IDX folder (default: MNIST_PATH, ...)")
    train_parser.add_argument("--save", metavar="NAME", help="save the trained model under this name")
    train_parser.add_argument("--models-dir", **models_dir)

    evaluate_parser = commands.add_parser("evaluate", help="test and per-class accuracy of a saved model")
    evaluate_parser.set_defaults(command=evaluate_command)
    evaluate_parser.add_argument("--model", required=True, metavar="NAME")
    evaluate_parser.add_argument("--data")
    evaluate_parser.add_argument("--models-dir", **models_dir)

    predict_parser = commands.add_parser("predict", help="read a digit from an image file")
    predict_parser.set_defaults(command=predict_command)
    predict_parser.add_argument("image", metavar="IMAGE")
    predict_parser.add_argument("--model", required=True, metavar="NAME")
    predict_parser.add_argument("--models-dir", **models_dir)

    list_parser = commands.add_parser("list", help="saved models")
    list_parser.set_defaults(command=list_command)
    list_parser.add_argument("--models-dir", **models_dir)

    import_parser = commands.add_parser("import", help="import a .keras model trained elsewhere; prints its name")
    import_parser.set_defaults(command=import_command)
    import_parser.add_argument("file", metavar="FILE.keras")
    import_parser.add_argument("--name", help="save it under this name (default: the file's name)")
    import_parser.add_argument("--data", help="the digits it is measured on (default: MNIST_PATH, ...)")
    import_parser.add_argument("--models-dir", **models_dir)

    code_parser = commands.add_parser("export-code", help="a saved model's run as a standalone Keras 3 script")
    code_parser.set_defaults(command=export_code_command)
    code_parser.add_argument("--model", required=True, metavar="NAME")
    code_parser.add_argument("--out", metavar="FILE", help="write it here (default: print it)")
    code_parser.add_argument("--models-dir", **models_dir)
    return parser


def _units(text: str) -> tuple[int, ...]:
    try:
        return parse_units(text, "--hidden")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _config_value(field: str, kind: type):
    """An argparse type: the text as ``kind``, refused unless TrainConfig accepts it for ``field``.

    So a value out of core.model.config.LIMITS fails while the arguments are parsed, before TensorFlow loads.
    """

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{field} must be a {'whole number' if kind is int else 'number'}, got {text!r}") from None
        try:
            TrainConfig(**{field: value})
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return value

    return parse


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with stderr sent to /dev/null.

    TensorFlow 2.21 prints oneDNN and absl notes while it loads, and
    TF_CPP_MIN_LOG_LEVEL no longer hides them; an error must stay one line.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import_tensorflow()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _ProgressBar:
    """One line on stderr that redraws itself; close() ends it so the next line starts clean.

    It also prints the run's estimate on stdout, once, as soon as the run has timed steps without its compiling
    (about a second in): "estimate: about 15 s here". Timing the network apart first, as the dashboard's
    calibrator does (core.training.estimate), compiled it a second time: 2-3 s of the Quick CNN's 17 s command.
    """

    width = 30

    def __init__(self):
        self.drawn = False
        self.estimated = False

    def draw(self, progress) -> None:
        if not self.estimated and progress.eta_seconds is not None:
            self.close()
            print(f"estimate: {format_estimate(progress.elapsed_seconds + progress.eta_seconds)}", flush=True)
            self.estimated = True
        filled = int(self.width * progress.fraction)
        loss = progress.batch_losses[-1] if progress.batch_losses else float("nan")
        eta = f"{progress.eta_seconds:.0f}s" if progress.eta_seconds is not None else "?"
        sys.stderr.write(
            f"\repoch {progress.epoch}/{progress.epochs} [{'#' * filled}{'.' * (self.width - filled)}] "
            f"{progress.fraction:4.0%} loss {loss:.4f} {progress.samples_per_second:,.0f} samples/s ETA {eta}  "
        )
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.drawn = False


def _fail(message: str) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)  # one line, whatever the message holds
    return EXIT_ERROR
