#!/usr/bin/env python3
"""Golden fits of scikit-learn's LogisticRegression(solver="lbfgs", penalty="l2", max_iter=1000), the
classifier of CoOp's linear probe, on small random problems that the linear-probe fixtures do not cover:
two classes (scikit-learn fits one binary model), labels that are not 0..K-1, many classes, nearly
separable data at a large C. Writes test/fixtures/sklearn-logistic/fits.json.

Run with Debian's scikit-learn (apt-get install python3-sklearn; 1.2.1 on Debian 12):
    /usr/bin/python3 scripts/golden/sklearn-logistic.py
"""
import json
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "sklearn-logistic", "fits.json")


def main():
    rng = np.random.default_rng(0)
    cases = []
    # (name, samples, dim, classes, C, spread of the class centres)
    for name, n, d, k, c, sep in [
        ("five-classes-C1", 40, 12, 5, 1.0, 1.0),
        ("five-classes-C1e4", 40, 12, 5, 1e4, 3.0),
        ("ten-classes-C1e-2", 60, 8, 10, 1e-2, 1.0),
        ("binary-C10", 30, 6, 2, 10.0, 1.0),
        ("binary-separable-C1e6", 30, 6, 2, 1e6, 4.0),
        ("twenty-classes-separable-C1e6", 60, 16, 20, 1e6, 2.0),
    ]:
        centres = rng.normal(size=(k, d)) * sep
        y = np.repeat(np.arange(k), n // k)
        x = (centres[y] + rng.normal(size=(len(y), d))).astype(np.float32).astype(np.float64) * 3 + 1
        labels = y * 3 + 7  # not 0..K-1
        clf = LogisticRegression(solver="lbfgs", max_iter=1000, penalty="l2", C=c).fit(x, labels)
        cases.append({
            "name": name,
            "C": c,
            "features": x.tolist(),
            "labels": labels.tolist(),
            "classes": clf.classes_.tolist(),
            "coef": clf.coef_.tolist(),
            "intercept": clf.intercept_.tolist(),
            "n_iter": int(clf.n_iter_[0]),
            "predictions": clf.predict(x).tolist(),
        })
    with open(OUT, "w") as f:
        json.dump({"source": f"scikit-learn {sklearn.__version__} LogisticRegression(solver='lbfgs', penalty='l2', max_iter=1000)", "cases": cases}, f)


if __name__ == "__main__":
    main()
