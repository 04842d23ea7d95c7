"""tf.app / tf.flags and the session configuration classes TF1 scripts pass around (accepted; graphc
has no thread pools or GPU memory fractions to set)."""
import argparse
import sys


class _Flags:
    """tf.flags.FLAGS: flags defined with DEFINE_*, parsed from sys.argv on first read."""

    def __init__(self):
        object.__setattr__(self, "_parser", argparse.ArgumentParser(add_help=False))
        object.__setattr__(self, "_values", None)

    def _define(self, name, default, help_text, kind):
        if kind is bool:
            self._parser.add_argument(f"--{name}", nargs="?", const=True, default=default,
                                      type=lambda v: str(v).lower() in ("1", "true", "yes"), help=help_text)
        else:
            self._parser.add_argument(f"--{name}", default=default, type=kind, help=help_text)
        if self._values is not None:
            setattr(self._values, name, default)

    def _parse(self, argv=None):
        values, rest = self._parser.parse_known_args((sys.argv if argv is None else argv)[1:])
        object.__setattr__(self, "_values", values)
        return [sys.argv[0]] + rest

    def __getattr__(self, name):
        if self._values is None:
            self._parse()
        try:
            return getattr(self._values, name)
        except AttributeError:
            raise AttributeError(f"no flag named {name!r} was defined") from None

    def __setattr__(self, name, value):
        if self._values is None:
            self._parse()
        setattr(self._values, name, value)

    def __call__(self, argv):
        return self._parse(argv)

    def flag_values_dict(self):
        if self._values is None:
            self._parse()
        return dict(vars(self._values))


FLAGS = _Flags()


def _definer(kind):
    def define(name, default, help=None, **unused):  # noqa: A002 (TF's keyword)
        FLAGS._define(name, default, help, kind)
    return define


DEFINE_string = _definer(str)
DEFINE_integer = _definer(int)
DEFINE_float = _definer(float)
DEFINE_boolean = DEFINE_bool = _definer(bool)


def DEFINE_list(name, default, help=None, **unused):  # noqa: A002,N802
    FLAGS._define(name, default, help, lambda v: v.split(","))


flags = type(sys)("flags")
flags.FLAGS = FLAGS
flags.DEFINE_string, flags.DEFINE_integer, flags.DEFINE_float = DEFINE_string, DEFINE_integer, DEFINE_float
flags.DEFINE_boolean = flags.DEFINE_bool = DEFINE_boolean
flags.DEFINE_list = DEFINE_list


def run(main=None, argv=None):
    """Parse the flags, then call main(argv) (the caller's module's `main` when not given) and exit."""
    rest = FLAGS._parse(argv)
    if main is None:
        main = sys.modules["__main__"].main
    sys.exit(main(rest))


class _Options:
    """A bag of settings: any keyword is accepted and kept as an attribute."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _Options()  # nested messages (config.gpu_options.allow_growth = True)
        setattr(self, name, value)
        return value


class GPUOptions(_Options):
    """Accepted: graphc allocates what a compiled plan needs."""


class ConfigProto(_Options):
    """Accepted: graphc's thread count and placement come from the target and tf.device."""


class GraphOptions(_Options):
    """Accepted."""


class OptimizerOptions(_Options):
    """Accepted."""

    ON_1, L1, L0, OFF = 1, 1, 0, -1


class RunOptions(_Options):
    """Options of one Session.run (trace_level)."""

    NO_TRACE, SOFTWARE_TRACE, HARDWARE_TRACE, FULL_TRACE = 0, 1, 2, 3


class RunMetadata(_Options):
    """Filled by Session.run when tracing (step_stats)."""
