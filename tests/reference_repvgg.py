"""A compact, independent model in the RepVGG reference implementation's
module layout (``stage0``, ``rbr_dense``, ``rbr_1x1``, ``rbr_identity``,
``rbr_reparam``, ``se.down``/``se.up``, ``linear``), used by the tests to
produce checkpoints in that layout and the logits the reference would give.
Its fusion is written out again here on purpose, independent of repseg's.

``QABlock`` (``ReferenceRepVGG(..., qa=True)``) is the block of the QARepVGG
authors' code (``QARepVGGBlockV2``) in its key layout: ``rbr_dense.conv`` /
``rbr_dense.bn``, a bare ``rbr_1x1`` conv, a parameter-free identity and the
post-sum BN ``bn``: ``relu(bn(bn3(conv3x3(x)) + conv1x1(x) + x))``; fused,
``rbr_reparam`` as above. No SE (the authors apply it before ``bn``, which
does not fuse).
"""
import torch
import torch.nn.functional as F
from torch import nn


def conv_bn(cin, cout, k, stride, padding, groups):
    seq = nn.Sequential()
    seq.add_module('conv', nn.Conv2d(cin, cout, k, stride, padding,
                                     groups=groups, bias=False))
    seq.add_module('bn', nn.BatchNorm2d(cout))
    return seq


class SE(nn.Module):

    def __init__(self, channels, hidden):
        super().__init__()
        self.down = nn.Conv2d(channels, hidden, 1, bias=True)
        self.up = nn.Conv2d(hidden, channels, 1, bias=True)

    def forward(self, x):
        w = F.avg_pool2d(x, kernel_size=x.size(3))
        return x * torch.sigmoid(self.up(F.relu(self.down(w))))


class Block(nn.Module):

    def __init__(self, cin, cout, stride, groups, use_se, deploy):
        super().__init__()
        self.cin, self.groups = cin, groups
        self.se = SE(cout, cout // 16) if use_se else nn.Identity()
        if deploy:
            self.rbr_reparam = nn.Conv2d(cin, cout, 3, stride, 1,
                                         groups=groups, bias=True)
        else:
            self.rbr_identity = (nn.BatchNorm2d(cin)
                                 if cin == cout and stride == 1 else None)
            self.rbr_dense = conv_bn(cin, cout, 3, stride, 1, groups)
            self.rbr_1x1 = conv_bn(cin, cout, 1, stride, 0, groups)

    def forward(self, x):
        if hasattr(self, 'rbr_reparam'):
            return F.relu(self.se(self.rbr_reparam(x)))
        ident = 0 if self.rbr_identity is None else self.rbr_identity(x)
        return F.relu(self.se(self.rbr_dense(x) + self.rbr_1x1(x) + ident))

    def fused(self):
        def fold(kernel, bn):
            t = bn.weight / (bn.running_var + bn.eps).sqrt()
            return kernel * t.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * t
        k3, b3 = fold(self.rbr_dense.conv.weight, self.rbr_dense.bn)
        k1, b1 = fold(self.rbr_1x1.conv.weight, self.rbr_1x1.bn)
        kernel, bias = k3 + F.pad(k1, [1, 1, 1, 1]), b3 + b1
        if self.rbr_identity is not None:
            per_group = self.cin // self.groups
            eye = torch.zeros(self.cin, per_group, 3, 3)
            for i in range(self.cin):
                eye[i, i % per_group, 1, 1] = 1
            ki, bi = fold(eye, self.rbr_identity)
            kernel, bias = kernel + ki, bias + bi
        return kernel, bias


class QABlock(nn.Module):

    def __init__(self, cin, cout, stride, groups, use_se, deploy):
        super().__init__()
        assert not use_se, 'the QARepVGG reference has no SE'
        self.cin, self.groups = cin, groups
        if deploy:
            self.rbr_reparam = nn.Conv2d(cin, cout, 3, stride, 1,
                                         groups=groups, bias=True)
        else:
            self.identity = cin == cout and stride == 1
            self.rbr_dense = conv_bn(cin, cout, 3, stride, 1, groups)
            self.rbr_1x1 = nn.Conv2d(cin, cout, 1, stride, 0, groups=groups,
                                     bias=False)
            self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        if hasattr(self, 'rbr_reparam'):
            return F.relu(self.rbr_reparam(x))
        out = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.identity:
            out = out + x
        return F.relu(self.bn(out))

    def fused(self):
        bn3, post = self.rbr_dense.bn, self.bn
        t3 = bn3.weight / (bn3.running_var + bn3.eps).sqrt()
        kernel = self.rbr_dense.conv.weight * t3.reshape(-1, 1, 1, 1)
        bias = bn3.bias - bn3.running_mean * t3
        kernel = kernel + F.pad(self.rbr_1x1.weight, [1, 1, 1, 1])
        if self.identity:
            per_group = self.cin // self.groups
            eye = torch.zeros(self.cin, per_group, 3, 3)
            for i in range(self.cin):
                eye[i, i % per_group, 1, 1] = 1
            kernel = kernel + eye
        # post(z) = (z - mean) * t + beta with z = conv(x, kernel) + bias
        t = post.weight / (post.running_var + post.eps).sqrt()
        return (kernel * t.reshape(-1, 1, 1, 1),
                post.bias + (bias - post.running_mean) * t)


class ReferenceRepVGG(nn.Module):

    def __init__(self, num_blocks, widths, group_map=None, use_se=False,
                 num_classes=10, deploy=False, qa=False):
        super().__init__()
        group_map = group_map or {}
        block = QABlock if qa else Block
        cin = min(64, widths[0])
        self.stage0 = block(3, cin, 2, 1, use_se, deploy)
        number = 1
        for s, (n, cout) in enumerate(zip(num_blocks, widths), 1):
            blocks = []
            for i in range(n):
                blocks.append(block(cin, cout, 2 if i == 0 else 1,
                                    group_map.get(number, 1), use_se, deploy))
                cin, number = cout, number + 1
            setattr(self, f'stage{s}', nn.Sequential(*blocks))
        self.linear = nn.Linear(cin, num_classes)

    def features(self, x):
        x = self.stage0(x)
        outs = []
        for s in range(1, 5):
            x = getattr(self, f'stage{s}')(x)
            outs.append(x)
        return outs

    def forward(self, x):
        x = self.features(x)[-1]
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))

    def deploy_state_dict(self):
        """The reference's own conversion output: rbr_reparam + linear."""
        state = {}
        for name, module in self.named_modules():
            if isinstance(module, (Block, QABlock)):
                kernel, bias = module.fused()
                state[f'{name}.rbr_reparam.weight'] = kernel.detach().clone()
                state[f'{name}.rbr_reparam.bias'] = bias.detach().clone()
                se = getattr(module, 'se', nn.Identity())
                for p, v in se.state_dict().items():
                    state[f'{name}.se.{p}'] = v
        state['linear.weight'] = self.linear.weight.detach().clone()
        state['linear.bias'] = self.linear.bias.detach().clone()
        return state
