# Shared I/O of the torch oracle scripts: inputs are raw little-endian f32 files NAME.bin beside
# params.json in the directory given as the only argument; the result goes to out.bin.
import json
import os
import sys

import numpy as np
import torch

torch.set_grad_enabled(False)


class Job:
    def __init__(self):
        self.dir = sys.argv[1]
        with open(os.path.join(self.dir, "params.json")) as f:
            self.params = json.load(f)

    def __getitem__(self, name):
        return self.params[name]

    def get(self, name, default=None):
        return self.params.get(name, default)

    def tensor(self, name, shape):
        data = np.fromfile(os.path.join(self.dir, name + ".bin"), dtype="<f4")
        return torch.from_numpy(data.reshape(shape).copy())

    def has(self, name):
        return os.path.exists(os.path.join(self.dir, name + ".bin"))

    def save(self, out):
        out = out.detach().to(torch.float32).contiguous().numpy()
        if not np.all(np.isfinite(out)):
            raise SystemExit("oracle produced non-finite values")
        out.astype("<f4").tofile(os.path.join(self.dir, "out.bin"))
