"""Build the demo data sets shipped with metricbridge.

Run as ``python data/make_demo_data.py``; it writes ``fraud_transactions.parquet`` and
``support_tickets.parquet`` next to this file and prints a short report for each. With ``--monitoring``
it writes only ``fraud_monitoring.parquet``: twelve weeks after the demo period scored by the same fraud
models, with planted drift, a channel the models are weak in and labels still pending in the last two
weeks (see data/README.md).

Why it is built this way:

* The scores come from real scikit-learn models trained on a train split and applied to a held-out
  test split, not from a formula of the label, so their errors look like real model errors
  (ties, overlap between classes, segment effects the model did not learn).
* Each label comes from a latent process that the models only partly see (unobserved noise,
  a fraud type the features barely reveal, an incident the ticket model knows nothing about),
  which keeps ROC AUC in a realistic 0.80-0.93 band.
* The models are deliberately mis-calibrated in the ways real ones are: a gradient-boosting model
  fitted on a negative-undersampled sample (over-confident), a strongly regularised logistic
  regression (under-confident at the top) and a class-weighted logistic regression (over-confident).
* Each set records the existing business rule, and the rule wins on some outcome (dollars caught,
  precision inside one segment), so the metric-versus-outcome trade-off in the demo is real.

Everything flows from ``SEED``; rerunning gives byte-identical files.
"""

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 20240611
HERE = Path(__file__).resolve().parent
SCORE_DECIMALS = 6

# Both sets cover the same eight weeks so dashboards can line them up.
PERIOD_START = pd.Timestamp("2024-03-04 00:00:00")
PERIOD_DAYS = 56


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------


def rng_for(stream: int) -> np.random.Generator:
    """Give each data set its own random stream so editing one never changes the other."""
    return np.random.default_rng([SEED, stream])


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Map a latent logit to a probability."""
    return 1.0 / (1.0 + np.exp(-x))


def draw_timestamps(
    rng: np.random.Generator,
    n: int,
    hour_weights: np.ndarray,
    weekday_weights: np.ndarray,
    *,
    start: pd.Timestamp = PERIOD_START,
    days: int = PERIOD_DAYS,
) -> pd.Series:
    """Draw timestamps over ``days`` days from ``start`` (a Monday; the demo period by default) with
    realistic hour-of-day and weekday patterns."""
    day_weights = weekday_weights[np.arange(days) % 7]
    day = rng.choice(days, size=n, p=day_weights / day_weights.sum())
    hours = rng.choice(24, size=n, p=hour_weights / hour_weights.sum())
    seconds = rng.integers(0, 3600, size=n)
    offsets = pd.to_timedelta(day * 86_400 + hours * 3600 + seconds, unit="s")
    return pd.Series(start + offsets).astype("datetime64[us]")


def round_scores(p: np.ndarray) -> np.ndarray:
    """Round probabilities to 6 decimals: plenty for any metric, and it keeps the files small."""
    return np.round(np.clip(p.astype(np.float64), 0.0, 1.0), SCORE_DECIMALS)


def top_k_flags(scores: np.ndarray, k: int) -> np.ndarray:
    """Flag the k highest scores (stable tie-break), i.e. the model run at a given flag count."""
    flags = np.zeros(scores.shape[0], dtype=bool)
    if k > 0:
        flags[np.argsort(-scores, kind="stable")[:k]] = True
    return flags


def recall_precision(flags: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> tuple[float, float]:
    """Recall (optionally weighted, e.g. by dollars) and precision of a set of flags."""
    w = np.ones_like(y, dtype=float) if weight is None else weight
    positives = (w * y).sum()
    recall = float((w * y * flags).sum() / positives) if positives > 0 else float("nan")
    precision = float(y[flags].mean()) if flags.any() else float("nan")
    return recall, precision


def write_parquet(df: pd.DataFrame, name: str, schema: pa.Schema) -> Path:
    """Write one demo set with zstd compression next to this script.

    An explicit Arrow schema without pandas metadata keeps the file readable the same way by any
    pandas (2.x or 3.x), DuckDB or Arrow reader, and keeps the bytes independent of the pandas version.
    """
    path = HERE / name
    table = pa.Table.from_pandas(df, schema=schema, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path, compression="zstd")
    return path


# --------------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------------


def calibration_lines(y: np.ndarray, p: np.ndarray, bins: int = 5) -> list[str]:
    """Mean predicted vs observed rate overall and per equal-count score bin.

    Equal-count bins are used because with 1-2 % prevalence equal-width bins are nearly all empty.
    """
    lines = [
        f"      overall: mean predicted {p.mean():.4f} vs observed {y.mean():.4f} (ratio {p.mean() / y.mean():.2f})"
    ]
    order = np.argsort(p, kind="stable")
    for i, idx in enumerate(np.array_split(order, bins)):
        lines.append(
            f"      score bin {i + 1}/{bins}: mean predicted {p[idx].mean():.4f} vs observed {y[idx].mean():.4f}"
        )
    top = order[-max(1, len(p) // 50) :]
    lines.append(f"      top 2% of scores: mean predicted {p[top].mean():.4f} vs observed {y[top].mean():.4f}")
    return lines


def report_scores(y: np.ndarray, scores: dict[str, np.ndarray]) -> None:
    """Print AUC, Brier score and a calibration summary for each score column."""
    for name, p in scores.items():
        print(
            f"  {name}: ROC AUC {roc_auc_score(y, p):.4f}, Brier {brier_score_loss(y, p):.5f} "
            f"(Brier of predicting prevalence: {brier_score_loss(y, np.full_like(p, y.mean())):.5f})"
        )
        print("\n".join(calibration_lines(y, p)))


def compare_rule(
    label: str, y: np.ndarray, rule: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None
) -> list[str]:
    """Compare the rule with the model flagging the same number of rows; return what the rule wins."""
    model = top_k_flags(score, int(rule.sum()))
    r_rec, r_prec = recall_precision(rule, y)
    m_rec, m_prec = recall_precision(model, y)
    print(
        f"    {label:<24} flag rate {rule.mean():.4f} | recall rule {r_rec:.3f} vs model {m_rec:.3f} "
        f"| precision rule {r_prec:.3f} vs model {m_prec:.3f}"
    )
    wins = []
    if r_rec > m_rec:
        wins.append(f"{label}: recall")
    if r_prec > m_prec:
        wins.append(f"{label}: precision")
    if weight is not None:
        r_w, _ = recall_precision(rule, y, weight)
        m_w, _ = recall_precision(model, y, weight)
        print(f"    {'':<24} dollar recall rule {r_w:.3f} vs model {m_w:.3f}")
        if r_w > m_w:
            wins.append(f"{label}: dollar recall")
    return wins


def report_rule(
    y: np.ndarray,
    rule: np.ndarray,
    score: np.ndarray,
    score_name: str,
    segments: np.ndarray,
    weight: np.ndarray | None = None,
) -> None:
    """Rule vs model at the rule's own flag rate, overall and per segment, naming where the rule wins."""
    print(f"  rule vs {score_name} at the same flag rate (model flags its top-k, k = rule flags):")
    wins = compare_rule("overall", y, rule, score, weight)
    for seg in sorted(set(segments)):
        mask = segments == seg
        if rule[mask].sum() >= 20 and y[mask].sum() >= 10:
            w = None if weight is None else weight[mask]
            wins += compare_rule(f"segment={seg}", y[mask], rule[mask], score[mask], w)
    print(f"  rule wins on: {', '.join(wins) if wins else 'nothing'}")


# --------------------------------------------------------------------------------------------------
# Fraud review of card transactions
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """Merchant segment: traffic share, amount distribution, online share, and fraud propensity."""

    share: float
    median_usd: float
    sigma: float
    online_share: float
    fraud_offset: float


SEGMENTS: dict[str, Segment] = {
    "grocery": Segment(0.22, 45.0, 0.70, 0.05, -0.6),
    "restaurants": Segment(0.15, 38.0, 0.60, 0.10, -0.6),
    "fuel": Segment(0.11, 52.0, 0.40, 0.00, 0.0),
    "online_retail": Segment(0.16, 65.0, 0.90, 0.95, 0.3),
    "utilities": Segment(0.08, 95.0, 0.50, 0.70, -1.2),
    "electronics": Segment(0.08, 180.0, 1.00, 0.50, 0.7),
    "travel": Segment(0.07, 330.0, 0.90, 0.80, 0.3),
    "online_gaming": Segment(0.05, 25.0, 1.00, 1.00, 1.0),
    "jewelry": Segment(0.03, 380.0, 1.00, 0.30, 0.4),
    "pharmacy": Segment(0.05, 30.0, 0.60, 0.15, -0.5),
}
RISKY_NIGHT_SEGMENTS = ("online_gaming", "electronics", "jewelry")
RULE_AMOUNT_USD = 900.0
FRAUD_SCHEMA = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("merchant_segment", pa.string()),
        ("rule_flag", pa.int64()),
        ("is_fraud", pa.int64()),
        ("score_gbm", pa.float64()),
        ("score_logreg", pa.float64()),
    ]
)
FRAUD_TOTAL_ROWS = 100_000  # 60,000 to train on, 40,000 scored and written
FRAUD_TEST_ROWS = 40_000
# Latent fraud process (see fraud_label); tuned for ~1.5 % prevalence and a GBM AUC near 0.88.
FRAUD_A_BASE = -11.2
FRAUD_A_SCALE = 1.8
FRAUD_A_NOISE = 0.4  # unobserved by any model: caps the achievable AUC
FRAUD_B_BASE = -6.1
# Card traffic by hour 0-23: peaks around midday and early evening, little between 1 and 5 a.m.
# fmt: off
CARD_HOUR_WEIGHTS = np.array([
    1.2, 0.8, 0.5, 0.4, 0.4, 0.6, 1.5, 3.0, 4.5, 5.0, 5.5, 6.5,
    7.5, 7.0, 6.0, 5.5, 6.0, 7.0, 7.5, 7.0, 5.5, 4.0, 2.8, 1.8,
])
# fmt: on
CARD_WEEKDAY_WEIGHTS = np.array([0.95, 0.95, 1.0, 1.0, 1.15, 1.25, 0.9])


def is_night(ts: pd.Series) -> np.ndarray:
    """Night means 23:00-04:59, the window both the fraud process and the existing rule care about."""
    hour = ts.dt.hour.to_numpy()
    return (hour <= 4) | (hour >= 23)


def fraud_features(
    rng: np.random.Generator,
    n: int,
    *,
    start: pd.Timestamp = PERIOD_START,
    days: int = PERIOD_DAYS,
) -> pd.DataFrame:
    """Draw plausible transaction features, independently of any label, over ``days`` days from ``start``
    (the demo period by default)."""
    names = list(SEGMENTS)
    shares = np.array([s.share for s in SEGMENTS.values()])
    seg = rng.choice(names, size=n, p=shares / shares.sum())
    median = np.array([SEGMENTS[s].median_usd for s in seg])
    sigma = np.array([SEGMENTS[s].sigma for s in seg])
    online_share = np.array([SEGMENTS[s].online_share for s in seg])
    amount = np.maximum(np.round(median * np.exp(sigma * rng.standard_normal(n)), 2), 1.0)
    online = rng.random(n) < online_share
    return pd.DataFrame(
        {
            "timestamp": draw_timestamps(rng, n, CARD_HOUR_WEIGHTS, CARD_WEEKDAY_WEIGHTS, start=start, days=days),
            "amount": amount,
            "merchant_segment": seg,
            "card_not_present": online.astype(np.int64),
            "new_device": (online & (rng.random(n) < 0.07)).astype(np.int64),
            "txn_count_24h": rng.poisson(2.5, size=n),
            "distance_km": np.round(np.exp(np.log(8.0) + 1.3 * rng.standard_normal(n)), 1),
            "account_age_days": np.maximum(1, rng.exponential(1400.0, size=n).astype(np.int64)),
        }
    )


def fraud_label(rng: np.random.Generator, X: pd.DataFrame) -> np.ndarray:
    """Latent fraud process with two fraud types the models see very differently.

    Type A (card testing / card-not-present fraud) depends on segment, night, device, velocity,
    distance and account age plus noise the model never sees, so a model can rank it well but not perfectly.
    Type B (high-value account takeover) depends almost only on amount: looks normal otherwise, so a
    ranking model puts it below the obvious Type A cases while the amount rule catches it.
    """
    night = is_night(X["timestamp"]).astype(float)
    offset = X["merchant_segment"].map({k: v.fraud_offset for k, v in SEGMENTS.items()}).to_numpy()
    signal = (
        offset
        + 1.6 * night
        + 0.9 * X["card_not_present"]
        + 2.0 * X["new_device"]
        + 0.6 * (X["txn_count_24h"] - 2.5)
        + 0.9 * np.log1p(X["distance_km"] / 8.0)
        - 1.1 * (np.log10(X["account_age_days"]) - 3.0)
        + 1.2 * night * X["card_not_present"]
    )
    logit_a = FRAUD_A_BASE + FRAUD_A_SCALE * signal + FRAUD_A_NOISE * rng.standard_normal(len(X))
    logit_b = FRAUD_B_BASE + 1.7 * np.maximum(np.log(X["amount"] / 300.0), 0.0) + 0.5 * rng.standard_normal(len(X))
    p = 1.0 - (1.0 - sigmoid(logit_a.to_numpy())) * (1.0 - sigmoid(logit_b.to_numpy()))
    return (rng.random(len(X)) < p).astype(np.int64)


def fraud_model_matrix(X: pd.DataFrame, one_hot: bool) -> pd.DataFrame:
    """Features the fraud models see: what a feature store would hold, no latent noise."""
    base = pd.DataFrame(
        {
            "log_amount": np.log(X["amount"]),
            "hour": X["timestamp"].dt.hour,
            "card_not_present": X["card_not_present"],
            "new_device": X["new_device"],
            "txn_count_24h": X["txn_count_24h"],
            "log_distance": np.log1p(X["distance_km"]),
            "log_account_age": np.log10(X["account_age_days"]),
        }
    )
    seg = pd.Categorical(X["merchant_segment"], categories=list(SEGMENTS))
    if one_hot:
        dummies = pd.get_dummies(seg, prefix="seg", drop_first=True, dtype=float)
        return pd.concat([base, dummies.set_axis(base.index)], axis=1)
    return base.assign(segment_code=seg.codes.astype(np.int64))


def fit_fraud_gbm(X: pd.DataFrame, y: np.ndarray, rng: np.random.Generator) -> HistGradientBoostingClassifier:
    """Gradient boosting fitted on all frauds but only 10 % of legitimate rows.

    Negative undersampling is what many fraud teams do to save compute; left uncorrected it inflates
    the probabilities several-fold, which is the over-confidence the demo needs.
    """
    keep = (y == 1) | (rng.random(len(y)) < 0.10)
    features = fraud_model_matrix(X, one_hot=False)
    model = HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.06,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        categorical_features=[features.columns.get_loc("segment_code")],
        early_stopping=False,
        random_state=SEED,
    )
    return model.fit(features[keep], y[keep])


def fit_fraud_logreg(X: pd.DataFrame, y: np.ndarray) -> Pipeline:
    """Heavily regularised logistic regression on the full train split.

    Strong L2 shrinks the slopes but not the intercept, so the mean is right while the riskiest rows
    are under-predicted (under-confident); its linear hour term also cannot see the night effect.
    """
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.002, max_iter=2000))
    return model.fit(fraud_model_matrix(X, one_hot=True), y)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FraudModels:
    """The two fraud models fitted on the train split, and the held-out test split they score."""

    gbm: HistGradientBoostingClassifier
    logreg: Pipeline
    X_test: pd.DataFrame
    y_test: np.ndarray


def train_fraud_models() -> FraudModels:
    """Simulate the demo period's transactions and fit both models on its train split.

    The monitoring set calls this too, so its scores come from exactly the models of the main demo.
    """
    rng = rng_for(1)
    X = fraud_features(rng, FRAUD_TOTAL_ROWS)
    y = fraud_label(rng, X)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=FRAUD_TEST_ROWS, stratify=y, random_state=SEED)
    gbm = fit_fraud_gbm(X_tr, y_tr, rng)
    logreg = fit_fraud_logreg(X_tr, y_tr)
    return FraudModels(gbm=gbm, logreg=logreg, X_test=X_te, y_test=y_te)


def score_fraud(X: pd.DataFrame, y: np.ndarray | pd.arrays.IntegerArray, models: FraudModels) -> pd.DataFrame:
    """The written columns for transactions ``X`` with labels ``y``: the rule's decisions and both scores."""
    night = is_night(X["timestamp"])
    rule = (X["amount"] > RULE_AMOUNT_USD) | (X["merchant_segment"].isin(RISKY_NIGHT_SEGMENTS) & night)
    return pd.DataFrame(
        {
            "timestamp": X["timestamp"],
            "amount": X["amount"].astype(np.float64),
            "merchant_segment": X["merchant_segment"].astype(str),
            "rule_flag": rule.astype(np.int64),
            "is_fraud": y,
            "score_gbm": round_scores(models.gbm.predict_proba(fraud_model_matrix(X, one_hot=False))[:, 1]),
            "score_logreg": round_scores(models.logreg.predict_proba(fraud_model_matrix(X, one_hot=True))[:, 1]),
        },
        index=X.index,
    )


def make_fraud(models: FraudModels) -> pd.DataFrame:
    """Return the test split of the demo period scored by both models."""
    out = score_fraud(models.X_test, models.y_test.astype(np.int64), models)
    out = out.sort_values("timestamp", kind="stable").reset_index(drop=True)
    out.insert(0, "transaction_id", [f"T{i:07d}" for i in range(1, len(out) + 1)])
    return out


def report_fraud(df: pd.DataFrame) -> None:
    """Print the figures that show the fraud set is realistic and the rule trade-off is real."""
    y = df["is_fraud"].to_numpy()
    print(
        f"fraud_transactions: {len(df)} rows, prevalence {y.mean():.4f}, "
        f"{df['timestamp'].min()} .. {df['timestamp'].max()}"
    )
    report_scores(y, {"score_gbm": df["score_gbm"].to_numpy(), "score_logreg": df["score_logreg"].to_numpy()})
    for name in ("score_gbm", "score_logreg"):
        report_rule(
            y,
            df["rule_flag"].to_numpy().astype(bool),
            df[name].to_numpy(),
            name,
            df["merchant_segment"].to_numpy(),
            weight=df["amount"].to_numpy(),
        )


# --------------------------------------------------------------------------------------------------
# Support-ticket urgency triage
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """Ticket queue: traffic share, base severity, and how customers use urgent words there."""

    share: float
    severity_offset: float
    keyword_base: float  # log-rate of urgent words on an ordinary ticket
    keyword_slope: float  # how strongly urgent words track true severity
    anger: float  # pushes sentiment down and exclamations up regardless of severity


TEAMS: dict[str, Team] = {
    "billing": Team(0.26, 0.0, -1.4, 0.30, 0.35),
    "technical": Team(0.30, 0.25, -5.0, 2.0, 0.0),
    "account": Team(0.18, 0.15, -2.6, 0.70, 0.10),
    "shipping": Team(0.18, -0.2, -2.4, 0.50, 0.25),
    "returns": Team(0.08, -0.4, -2.6, 0.40, 0.20),
}
TIERS = {"free": (0.55, -0.25), "pro": (0.35, 0.15), "enterprise": (0.10, 0.6)}
URGENT_SEVERITY = 1.3
TICKET_SCHEMA = pa.schema(
    [
        ("ticket_id", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("team", pa.string()),
        ("keyword_rule", pa.int64()),
        ("urgent", pa.string()),
        ("score", pa.float64()),
    ]
)
TICKET_TOTAL_ROWS = 50_000  # 20,000 to train on, 30,000 scored and written
TICKET_TEST_ROWS = 30_000
# Tickets by hour 0-23 follow office hours; weekends are quiet.
# fmt: off
TICKET_HOUR_WEIGHTS = np.array([
    0.4, 0.3, 0.2, 0.2, 0.2, 0.3, 0.7, 1.5, 3.5, 5.0, 5.5, 5.5,
    4.8, 5.2, 5.3, 5.0, 4.6, 3.8, 2.6, 2.0, 1.6, 1.2, 0.9, 0.6,
])
# fmt: on
TICKET_WEEKDAY_WEIGHTS = np.array([1.2, 1.1, 1.05, 1.0, 0.95, 0.45, 0.4])
# Three platform incidents (day offset, start hour, duration hours) that make technical tickets urgent.
INCIDENTS = ((9, 14, 5), (27, 2, 7), (44, 10, 4))
INCIDENT_SURGE_SHARE = 0.03
INCIDENT_SEVERITY_BOOST = 1.8


def incident_surge(rng: np.random.Generator, n: int) -> pd.Series:
    """Creation times of the extra technical tickets an outage brings, spread over its window."""
    windows = rng.integers(0, len(INCIDENTS), size=n)
    starts = np.array([day * 86_400 + hour * 3600 for day, hour, _ in INCIDENTS])[windows]
    lengths = np.array([length * 3600 for _, _, length in INCIDENTS])[windows]
    offsets = pd.to_timedelta(starts + (rng.random(n) * lengths).astype(np.int64), unit="s")
    return pd.Series(PERIOD_START + offsets).astype("datetime64[us]")


def in_incident(ts: pd.Series) -> np.ndarray:
    """True for tickets created during a platform incident window."""
    hit = np.zeros(len(ts), dtype=bool)
    for day, hour, length in INCIDENTS:
        start = PERIOD_START + pd.Timedelta(days=day, hours=hour)
        hit |= ((ts >= start) & (ts < start + pd.Timedelta(hours=length))).to_numpy()
    return hit


def ticket_latent(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Draw ticket context and a latent severity; a ticket is urgent when severity passes a bar.

    A share of tickets is an outage surge: technical tickets created inside an incident window with
    raised severity. The model has no incident feature, so it only sees them through their text.
    """
    n_surge = int(round(n * INCIDENT_SURGE_SHARE))
    team = rng.choice(list(TEAMS), size=n, p=[t.share for t in TEAMS.values()])
    team[:n_surge] = "technical"
    tier = rng.choice(list(TIERS), size=n, p=[s for s, _ in TIERS.values()])
    created = pd.concat(
        [incident_surge(rng, n_surge), draw_timestamps(rng, n - n_surge, TICKET_HOUR_WEIGHTS, TICKET_WEEKDAY_WEIGHTS)],
        ignore_index=True,
    )
    incident = in_incident(created) & (team == "technical")
    severity = (
        np.array([TEAMS[t].severity_offset for t in team])
        + np.array([TIERS[t][1] for t in tier])
        + INCIDENT_SEVERITY_BOOST * incident
        + rng.standard_normal(n)
    )
    return pd.DataFrame({"created_at": created, "team": team, "tier": tier, "severity": severity})


def ticket_text_features(rng: np.random.Generator, latent: pd.DataFrame) -> pd.DataFrame:
    """Text-derived features a triage model would compute, each a noisy echo of severity.

    Urgent words track severity strongly in the technical queue ("down", "outage") but are used
    loosely in billing ("urgent refund!!"), a team interaction a pooled linear model cannot learn.
    """
    s = latent["severity"].to_numpy()
    teams = latent["team"].to_numpy()
    kw_base = np.array([TEAMS[t].keyword_base for t in teams])
    kw_slope = np.array([TEAMS[t].keyword_slope for t in teams])
    anger = np.array([TEAMS[t].anger for t in teams])
    n = len(latent)
    return pd.DataFrame(
        {
            "keyword_hits": rng.poisson(np.exp(kw_base + kw_slope * s)),
            "sentiment": np.round(np.clip(-0.1 - 0.22 * s - anger + 0.4 * rng.standard_normal(n), -1, 1), 3),
            "exclamations": rng.poisson(np.exp(-1.3 + 0.3 * s + 1.5 * anger)),
            "log_words": np.log(60.0) - 0.08 * s + 0.55 * rng.standard_normal(n),
            "prior_tickets_7d": rng.poisson(np.exp(-1.4 + 0.3 * s)),
        }
    )


def ticket_model_matrix(latent: pd.DataFrame, text: pd.DataFrame) -> pd.DataFrame:
    """Model inputs: text features plus one-hot team and tier and a business-hours flag."""
    hour = latent["created_at"].dt.hour
    context = pd.DataFrame({"business_hours": ((hour >= 8) & (hour < 18)).astype(float)}, index=latent.index)
    team = pd.get_dummies(
        pd.Categorical(latent["team"], categories=list(TEAMS)), prefix="team", drop_first=True, dtype=float
    ).set_axis(latent.index)
    tier = pd.get_dummies(
        pd.Categorical(latent["tier"], categories=list(TIERS)), prefix="tier", drop_first=True, dtype=float
    ).set_axis(latent.index)
    return pd.concat([text.set_axis(latent.index), context, team, tier], axis=1)


def fit_ticket_model(X: pd.DataFrame, y: np.ndarray) -> Pipeline:
    """Class-weighted logistic regression: the usual fix for imbalance, which over-predicts urgency."""
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
    return model.fit(X, y)


def make_tickets() -> pd.DataFrame:
    """Simulate tickets, train the triage model on the train split, return the scored test split."""
    rng = rng_for(2)
    latent = ticket_latent(rng, TICKET_TOTAL_ROWS)
    text = ticket_text_features(rng, latent)
    y = (latent["severity"] > URGENT_SEVERITY).to_numpy().astype(np.int64)
    X = ticket_model_matrix(latent, text)
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=TICKET_TEST_ROWS, stratify=y, random_state=SEED)
    model = fit_ticket_model(X.iloc[idx_tr], y[idx_tr])
    out = pd.DataFrame(
        {
            "created_at": latent["created_at"].iloc[idx_te].to_numpy(),
            "team": latent["team"].iloc[idx_te].astype(str).to_numpy(),
            "keyword_rule": (text["keyword_hits"].iloc[idx_te] >= 1).astype(np.int64).to_numpy(),
            "urgent": np.where(y[idx_te] == 1, "yes", "no"),
            "score": round_scores(model.predict_proba(X.iloc[idx_te])[:, 1]),
        }
    )
    out = out.sort_values("created_at", kind="stable").reset_index(drop=True)
    out.insert(0, "ticket_id", [f"TK{i:06d}" for i in range(1, len(out) + 1)])
    return out


def report_tickets(df: pd.DataFrame) -> None:
    """Print the figures that show the ticket set is realistic and the rule trade-off is real."""
    y = (df["urgent"] == "yes").to_numpy().astype(np.int64)
    print(
        f"support_tickets: {len(df)} rows, prevalence {y.mean():.4f}, "
        f"{df['created_at'].min()} .. {df['created_at'].max()}"
    )
    report_scores(y, {"score": df["score"].to_numpy()})
    report_rule(y, df["keyword_rule"].to_numpy().astype(bool), df["score"].to_numpy(), "score", df["team"].to_numpy())


# --------------------------------------------------------------------------------------------------
# Monitoring the fraud models after the go decision
# --------------------------------------------------------------------------------------------------

# Twelve weeks straight after the demo period, scored by the demo's own models.
MONITORING_START = PERIOD_START + pd.Timedelta(days=PERIOD_DAYS)  # Monday 2024-04-29
MONITORING_WEEKS = 12
MONITORING_WEEKLY_ROWS = 4_000  # mean of a Poisson draw per week
# The random stream (1 is the fraud demo's, 2 the tickets'). Streams 3 to 10 all show the planted effects;
# stream 3's week 5 happens to differ from weeks 1-4 by chance beyond the KS test's 0.01 (p = 0.0009), which
# would put a drift alert before anything changed, so the demo uses stream 5, whose weeks 1-8 raise none.
MONITORING_STREAM = 5
DRIFT_FROM_WEEK = 9
LABELS_PENDING_WEEKS = 2  # fraud labels (chargebacks) arrive weeks late: the last two weeks have none yet
APP_SHARE_OF_ONLINE = 0.45  # card-not-present transactions made in the issuer's app; the rest on the web
# From week DRIFT_FROM_WEEK a partnership with a gaming platform brings its players, paying in the app: small
# top-ups, many a day, late in the evening, on new accounts. The models read all of that as risk, but the
# partner screens its players, so their fraud is rare and unrelated to those features. Share of each week's
# transactions:
PARTNER_SHARE = {9: 0.14, 10: 0.18, 11: 0.22, 12: 0.26}
PARTNER_FRAUD_RATE = 0.003
# fmt: off
PARTNER_HOUR_WEIGHTS = np.array([
    6.0, 4.5, 3.0, 2.0, 1.0, 0.5, 0.3, 0.3, 0.5, 0.8, 1.0, 1.2,
    1.5, 1.5, 1.5, 1.8, 2.2, 3.0, 4.0, 5.0, 6.0, 7.0, 7.5, 7.0,
])
# fmt: on
# From week DRIFT_FROM_WEEK a fraud ring takes over established accounts with stolen credentials and spends
# in daytime, from the customer's usual device, under the $900 rule: nothing the models learned looks odd.
TAKEOVER_SEGMENTS = ("online_retail", "electronics", "travel")
TAKEOVER_AMOUNT_USD = (30.0, 900.0)
TAKEOVER_RATE = {9: 0.05, 10: 0.06, 11: 0.07, 12: 0.08}  # share of eligible transactions that are takeovers
MONITORING_SCHEMA = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("week", pa.date32()),
        ("channel", pa.string()),
        ("amount", pa.float64()),
        ("merchant_segment", pa.string()),
        ("rule_flag", pa.int64()),
        ("is_fraud", pa.int64()),  # null while the label is pending
        ("score_gbm", pa.float64()),
        ("score_logreg", pa.float64()),
    ]
)
MONITORING_THRESHOLD = 0.6  # the score_gbm threshold the report's recall uses
PSI_BINS = 10
PSI_FLOOR = 1e-4  # an empty bin's share, so its log stays finite (as metricbridge.drift does)


def partner_players(rng: np.random.Generator, n: int, start: pd.Timestamp) -> pd.DataFrame:
    """The gaming partner's in-app top-ups in the week from ``start``, with fraud_features' columns."""
    return pd.DataFrame(
        {
            "timestamp": draw_timestamps(rng, n, PARTNER_HOUR_WEIGHTS, CARD_WEEKDAY_WEIGHTS, start=start, days=7),
            "amount": np.maximum(np.round(12.0 * np.exp(0.8 * rng.standard_normal(n)), 2), 1.0),
            "merchant_segment": np.full(n, "online_gaming"),
            "card_not_present": np.ones(n, dtype=np.int64),
            "new_device": (rng.random(n) < 0.07).astype(np.int64),
            "txn_count_24h": rng.poisson(7.0, size=n),
            "distance_km": np.round(np.exp(np.log(8.0) + 1.3 * rng.standard_normal(n)), 1),
            "account_age_days": np.maximum(1, rng.exponential(120.0, size=n).astype(np.int64)),
        }
    )


def takeover_fraud(rng: np.random.Generator, X: pd.DataFrame, week: int) -> np.ndarray:
    """The new fraud pattern: 0/1 per row, only from week DRIFT_FROM_WEEK, on ordinary-looking rows.

    Eligible rows are card-not-present daytime purchases in TAKEOVER_SEGMENTS on accounts over a year
    old, from a known device, for TAKEOVER_AMOUNT_USD: the profile both models score as safe.
    """
    low, high = TAKEOVER_AMOUNT_USD
    eligible = (
        X["merchant_segment"].isin(TAKEOVER_SEGMENTS).to_numpy()
        & (X["card_not_present"].to_numpy() == 1)
        & (X["new_device"].to_numpy() == 0)
        & ~is_night(X["timestamp"])
        & (X["account_age_days"].to_numpy() > 365)
        & (X["amount"].to_numpy() >= low)
        & (X["amount"].to_numpy() < high)
    )
    return (eligible & (rng.random(len(X)) < TAKEOVER_RATE.get(week, 0.0))).astype(np.int64)


def make_monitoring(models: FraudModels) -> pd.DataFrame:
    """Simulate MONITORING_WEEKS weeks of transactions after the demo period, scored by the demo's models.

    Weeks before DRIFT_FROM_WEEK follow the demo's own process; from then on the partner's players join
    the mix and the takeover pattern appears. The channel is ``pos`` for a card-present transaction and ``app`` or
    ``web`` for a card-not-present one; the models never see it. Labels of the last LABELS_PENDING_WEEKS
    weeks are null.
    """
    rng = rng_for(MONITORING_STREAM)
    weeks = []
    for week in range(1, MONITORING_WEEKS + 1):
        start = MONITORING_START + pd.Timedelta(weeks=week - 1)
        n = int(rng.poisson(MONITORING_WEEKLY_ROWS))
        n_partner = int(rng.binomial(n, PARTNER_SHARE.get(week, 0.0)))
        regular = fraud_features(rng, n - n_partner, start=start, days=7)
        partner = partner_players(rng, n_partner, start)
        X = pd.concat([regular, partner], ignore_index=True)
        y = np.concatenate(
            [
                fraud_label(rng, regular) | takeover_fraud(rng, regular, week),
                (rng.random(n_partner) < PARTNER_FRAUD_RATE).astype(np.int64),
            ]
        )
        app = np.r_[rng.random(n - n_partner) < APP_SHARE_OF_ONLINE, np.ones(n_partner, dtype=bool)]
        channel = np.where(X["card_not_present"].to_numpy() == 0, "pos", np.where(app, "app", "web"))
        labels = pd.array(y, dtype="Int64")
        if week > MONITORING_WEEKS - LABELS_PENDING_WEEKS:
            labels[:] = pd.NA
        scored = score_fraud(X, labels, models)
        scored.insert(1, "week", start.date())
        scored.insert(2, "channel", channel)
        weeks.append(scored)
    out = pd.concat(weeks, ignore_index=True).sort_values("timestamp", kind="stable").reset_index(drop=True)
    # Ids continue the demo file's (T0000001 ... T0040000), so the two files never share one.
    first = FRAUD_TEST_ROWS + 1
    out.insert(0, "transaction_id", [f"T{i:07d}" for i in range(first, first + len(out))])
    return out


def psi(reference: np.ndarray, window: np.ndarray, bins: int = PSI_BINS) -> float:
    """Population stability index of ``window``'s scores against ``reference``'s, over the reference's
    quantiles (bins end at and include their quantile; shares below PSI_FLOOR count as PSI_FLOOR)."""
    edges = np.unique(np.quantile(reference, np.arange(1, bins) / bins, method="inverted_cdf"))
    ref = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=len(edges) + 1) / len(reference)
    win = np.bincount(np.searchsorted(edges, window, side="left"), minlength=len(edges) + 1) / len(window)
    ref, win = np.maximum(ref, PSI_FLOOR), np.maximum(win, PSI_FLOOR)
    return float(np.sum((win - ref) * np.log(win / ref)))


def monitoring_recall(df: pd.DataFrame) -> float:
    """Recall of score_gbm at MONITORING_THRESHOLD over the labelled rows of ``df``."""
    labelled = df[df["is_fraud"].notna()]
    frauds = labelled["is_fraud"] == 1
    return float((labelled["score_gbm"][frauds] >= MONITORING_THRESHOLD).mean())


def report_monitoring(df: pd.DataFrame) -> None:
    """Print per week: rows, frauds, prevalence, recall at the threshold and PSI against weeks 1-4; then
    recall per channel over the labelled weeks."""
    week_number = {w: i + 1 for i, w in enumerate(sorted(df["week"].unique()))}
    number = df["week"].map(week_number)
    reference = df[number <= 4]
    print(
        f"fraud_monitoring: {len(df)} rows, {len(week_number)} weeks, "
        f"{df['timestamp'].min()} .. {df['timestamp'].max()}"
    )
    print(f"  {'week':<10}   #  rows  frauds  prevalence  recall@{MONITORING_THRESHOLD}  PSI gbm  PSI logreg")
    for week, i in week_number.items():
        rows = df[df["week"] == week]
        labelled = rows["is_fraud"].notna().all()
        frauds = f"{int(rows['is_fraud'].sum()):6d}" if labelled else f"{'-':>6}"
        prevalence = f"{rows['is_fraud'].mean():10.4f}" if labelled else f"{'pending':>10}"
        recall = f"{monitoring_recall(rows):10.3f}" if labelled else f"{'-':>10}"
        print(
            f"  {week}  {i:2d}  {len(rows):4d}  {frauds}  {prevalence}  {recall}  "
            f"{psi(reference['score_gbm'].to_numpy(), rows['score_gbm'].to_numpy()):7.3f}  "
            f"{psi(reference['score_logreg'].to_numpy(), rows['score_logreg'].to_numpy()):10.3f}"
        )
    before = df[number < DRIFT_FROM_WEEK]
    after = df[(number >= DRIFT_FROM_WEEK) & df["is_fraud"].notna()]
    print(
        f"  recall@{MONITORING_THRESHOLD} weeks 1-{DRIFT_FROM_WEEK - 1}: {monitoring_recall(before):.3f}, "
        f"weeks {DRIFT_FROM_WEEK}-{MONITORING_WEEKS - LABELS_PENDING_WEEKS}: {monitoring_recall(after):.3f}"
    )
    print(f"  per channel, labelled weeks (and weeks 1-{DRIFT_FROM_WEEK - 1}):")
    for channel in sorted(df["channel"].unique()):
        rows = df[(df["channel"] == channel) & df["is_fraud"].notna()]
        early = before[before["channel"] == channel]
        print(
            f"    {channel:<4} rows {len(rows):6d}  frauds {int(rows['is_fraud'].sum()):4d}  "
            f"prevalence {rows['is_fraud'].mean():.4f}  recall@{MONITORING_THRESHOLD} {monitoring_recall(rows):.3f}  "
            f"({monitoring_recall(early):.3f})"
        )


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Build, write and report the demo sets the command line asks for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--monitoring",
        action="store_true",
        help="build only fraud_monitoring.parquet, leaving the two demo-period files untouched",
    )
    args = parser.parse_args(argv)
    models = train_fraud_models()
    if args.monitoring:
        monitoring = make_monitoring(models)
        path = write_parquet(monitoring, "fraud_monitoring.parquet", MONITORING_SCHEMA)
        report_monitoring(monitoring)
        print(f"  wrote {path.name}: {path.stat().st_size / 1024:.0f} KiB")
        return
    fraud = make_fraud(models)
    path = write_parquet(fraud, "fraud_transactions.parquet", FRAUD_SCHEMA)
    report_fraud(fraud)
    print(f"  wrote {path.name}: {path.stat().st_size / 1024:.0f} KiB\n")
    tickets = make_tickets()
    path = write_parquet(tickets, "support_tickets.parquet", TICKET_SCHEMA)
    report_tickets(tickets)
    print(f"  wrote {path.name}: {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
