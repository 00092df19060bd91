#!/usr/bin/python3
"""Export sklearn's bundled breast-cancer data, features standardised (ddof=0).

Writes breast_cancer.csv next to this file: header y,x1,...,x30; 569 rows;
y in {0,1} (sklearn's target: 0 = malignant, 1 = benign); values as repr().
"""
import os
import numpy as np
from sklearn.datasets import load_breast_cancer

data = load_breast_cancer()
X = np.asarray(data.data, dtype=np.float64)
y = np.asarray(data.target, dtype=np.int64)
X = (X - X.mean(axis=0)) / X.std(axis=0, ddof=0)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "breast_cancer.csv")
with open(out, "w") as f:
    f.write("y," + ",".join(f"x{j + 1}" for j in range(X.shape[1])) + "\n")
    for yi, row in zip(y, X):
        f.write(str(int(yi)) + "," + ",".join(repr(float(v)) for v in row) + "\n")
print(f"wrote {out}: {X.shape[0]} rows, {X.shape[1]} features")
