"""Writes the text files NumPy users make, for test_matrix_file.cpp: np.savetxt with its
defaults (blank-separated, '%.18e', no header), with a header (written as '# x,y'), and with
delimiter ',' and a header; plus the matrix itself as a .npy for comparison."""
import sys

try:
    import numpy as np
except ImportError:
    sys.exit(2)

d = sys.argv[1]
a = np.random.default_rng(7).normal(size=(13, 3))
np.save(f"{d}/truth.npy", a)
np.savetxt(f"{d}/plain.txt", a)                                   # 1.2e+00 -3.4e-01 ...
np.savetxt(f"{d}/plain.csv", a)                                   # the same, named .csv
np.savetxt(f"{d}/header.txt", a, header="x y z")                  # "# x y z"
np.savetxt(f"{d}/header.csv", a, delimiter=",", header="x,y,z")   # "# x,y,z"
if len(sys.argv) > 2:  # and NumPy reads what ebm wrote as .txt
    b = np.loadtxt(sys.argv[2])
    assert b.shape == (20, 3), b.shape
    np.save(f"{d}/ebm_txt.npy", b)
