import os

import torch

# Two threads at most: the suite must fit a 2-core CI machine.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
