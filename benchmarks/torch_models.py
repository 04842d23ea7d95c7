"""Models as users bring them: small torch modules exported by torch.onnx.export (benchmarks/run.py, g..j).

Each builder returns (onnx.ModelProto, {input name: array}). Weights come from torch's own initializers
under a fixed seed (batch-norm statistics drawn too, so the folded scales are not all 1), and every runner
loads the same exported model, so graphc and its peers run the same weights on the same inputs.
"""
import io

import numpy as np

OPSET = 17  # what torch's TorchScript exporter writes by default for these modules


def _torch():
    import torch
    return torch


def export(module, args, input_names, opset=OPSET):
    """The ONNX model torch.onnx.export writes for `module` (eval mode) called on `args`."""
    import onnx
    torch = _torch()
    module.eval()
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, tuple(args), buf, input_names=input_names, output_names=["y"],
                          opset_version=opset, dynamo=False)
    return onnx.load_from_string(buf.getvalue())


def _randomize_norm_stats(module, seed):
    """Draw every BatchNorm's running mean/var (fresh modules have 0/1, which makes BN an identity)."""
    torch = _torch()
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


# ---- ResNet-18 ----------------------------------------------------------------------------------------
def _resnet18_module():
    nn = _torch().nn

    class Basic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.bn2(self.conv2(nn.functional.relu(self.bn1(self.conv1(x)))))
            return nn.functional.relu(y + (x if self.down is None else self.down(x)))

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Basic(cin, cout, stride), Basic(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


def _image_model(make_module, batch, seed):
    """(ONNX bytes, feeds) of the module `make_module()` builds (seeded weights, random norm statistics)
    on a seeded batch x 3 x 224 x 224 input."""
    torch = _torch()
    torch.manual_seed(seed)
    m = make_module()
    _randomize_norm_stats(m, seed)
    x = np.random.default_rng(seed + 1).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    return export(m, [torch.from_numpy(x)], ["x"]), {"x": x}


def resnet18(batch=1, seed=0):
    """torchvision-style ResNet-18 (BasicBlocks 2-2-2-2), batch x 3 x 224 x 224."""
    return _image_model(_resnet18_module, batch, seed)


# ---- MobileNetV2 ----------------------------------------------------------------------------------------
MOBILENET_V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1))  # (expansion, channels, repeats, first stride)


def _mobilenet_v2_module():
    nn = _torch().nn

    def conv_bn(cin, cout, k, stride, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        return layers + ([nn.ReLU6()] if act else [])

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            layers = conv_bn(cin, hidden, 1, 1) if expand != 1 else []
            layers += conv_bn(hidden, hidden, 3, stride, groups=hidden) + conv_bn(hidden, cout, 1, 1, act=False)
            self.body = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)

    layers, cin = conv_bn(3, 32, 3, 2), 32
    for expand, cout, repeats, stride in MOBILENET_V2_BLOCKS:
        for i in range(repeats):
            layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
            cin = cout
    layers += conv_bn(cin, 1280, 1, 1) + [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 1000)]
    return nn.Sequential(*layers)


def mobilenet_v2(batch=1, seed=0):
    """MobileNetV2 (width 1.0: inverted residuals around 3x3 depthwise convs), batch x 3 x 224 x 224."""
    return _image_model(_mobilenet_v2_module, batch, seed)


# ---- transformers -----------------------------------------------------------------------------------------
def _transformer_layer(d, heads, causal, seq):
    """A pre-norm transformer layer written as users write it: q/k/v projections, scaled dot-product
    scores (with a causal mask buffer when `causal`), softmax, output projection, GELU MLP."""
    torch = _torch()
    nn = torch.nn

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
            if causal:
                self.register_buffer("mask", torch.triu(torch.full((seq, seq), float("-inf")), diagonal=1))

        def forward(self, x):
            b, s, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
            q, k, v = (t.reshape(b, s, heads, d // heads).transpose(1, 2) for t in (q, k, v))
            scores = q @ k.transpose(-2, -1) / (d // heads) ** 0.5
            if causal:
                scores = scores + self.mask[:s, :s]
            a = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, d)
            x = x + self.proj(a)
            return x + self.mlp(self.ln2(x))
    return Layer()


def bert_encoder(seq=128, d=256, heads=4, layers=4, seed=0):
    """A BERT-mini-style encoder: `layers` bidirectional transformer layers over 1 x seq x d embeddings."""
    torch = _torch()
    torch.manual_seed(seed)
    m = torch.nn.Sequential(*[_transformer_layer(d, heads, False, seq) for _ in range(layers)],
                            torch.nn.LayerNorm(d))
    x = np.random.default_rng(seed + 1).standard_normal((1, seq, d)).astype(np.float32)
    return export(m, [torch.from_numpy(x)], ["x"]), {"x": x}


def gpt_decoder(seq=128, d=256, heads=4, layers=4, vocab=2048, seed=0):
    """A GPT-style decoder: token and position embeddings, `layers` causal transformer layers, final norm
    and the logits over `vocab` for 1 x seq int64 token ids."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(seq, d)
            self.layers = nn.Sequential(*[_transformer_layer(d, heads, True, seq) for _ in range(layers)])
            self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

        def forward(self, ids):
            h = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
            return self.head(self.ln(self.layers(h)))
    ids = np.random.default_rng(seed + 1).integers(0, vocab, (1, seq)).astype(np.int64)
    return export(Decoder(), [torch.from_numpy(ids)], ["ids"]), {"ids": ids}
