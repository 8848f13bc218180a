"""Postings in many scripts and small real models (features + classifier + fitted decision) for
the fused scorer's tests: every comparison is fused vs the model's own ``transform``."""

from __future__ import annotations

import datetime as dt

import numpy as np
from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from jobtagger.calibration import MultiLabelDecision, fit_decision
from jobtagger.config import CalibrationConfig, FeaturesConfig
from jobtagger.models.multi_output import MultiOutputSigmoid
from jobtagger.models.one_vs_rest import OneVsRestLogistic, OneVsRestLogisticModel
from jobtagger.session import JvmCapabilities
from jobtagger.text.features import build_feature_pipeline

DAY = dt.date(2026, 11, 1)
NO_JARS = JvmCapabilities(delta_spark=False, spark_nlp=False)
POSTING_SCHEMA = "posting_id string, title string, description string, labels array<string>, run_date date"
LABELS = [
    "category:data", "category:hospitality", "category:software_engineering", "language:de", "language:el",
    "language:ja", "language:tr", "skill:cpp", "skill:java", "skill:python", "skill:sql",
]
# skill:programming is no model label (scored by its best child); category:software_engineering is.
PARENTS = {
    "skill:python": "skill:programming", "skill:cpp": "skill:programming",
    "skill:programming": "category:software_engineering", "skill:sql": "category:data",
}
FEATURES = FeaturesConfig(min_doc_freq=1, num_features=4096, ngram_max=3, min_token_length=2)

# (title, description, labels): families the models learn; their words recur in EDGE_CASES.
FAMILIES = [
    ("Python Data Engineer", "Python pandas SQL pipelines; warehouse in der Straße",
     ["category:data", "skill:python", "skill:sql"]),
    ("Java Backend-Entwickler (m/w/d)", "Java Spring Microservices für unser Team in München. GRÖSSE, Größe, daß",
     ["category:software_engineering", "skill:java", "language:de"]),
    ("İstanbul Yazılım Mühendisi", "IŞIK ılık İzmir; Java ve C# bilen DİYARBAKIR mühendis",
     ["category:software_engineering", "skill:java", "language:tr"]),
    ("ΠΩΛΗΤΗΣ ΛΟΓΙΣΤΗΣ ΑΣ-Β", "ΟΔΥΣΣΕΥΣ ΑΣ1Β λόγος ΛΌΓΟΣ' ΑΣ.Β SQL reporting",
     ["category:data", "language:el", "skill:sql"]),
    ("ソフトウェアエンジニア 東京", "日本語 テキスト 𠀀𠀁 C++ c++ 開発 𝐁𝐨𝐥𝐝",
     ["category:software_engineering", "language:ja", "skill:cpp"]),
    ("Barista Café 🚀", "Café crème ☕ 😀🎉 — node.js e-mail co-op service",
     ["category:hospitality"]),
]

LONG_TEXT = " ".join(["python", "Straße", "日本語", "c++", "ΟΔΥΣΣΕΥΣ", "İzmir", "node.js.", "😀", "a.-b"] * 12_000)
# (posting_id, title, description): what the tag job meets besides the families' words.
EDGE_CASES = [
    ("accents", "Café Barista (m/w/d)", "Wir suchen eine Barista für unser Café in München. STRASSE, Straße, ẞ"),
    ("turkish", "İSTANBUL İzmir", "IŞIK ılık İĞNE İ I ı i̇ Java ve C#"),
    ("greek", "ΠΩΛΗΤΗΣ ΟΔΥΣΣΕΥΣ", "ΑΣ-Β ΑΣ1Β ΑΣ.Β ΑΣ'Β Σ σ ς ΛΌΓΟΣ. ΑΣ_Β ΑΣ ΒΣΑΣ"),
    ("cjk", "ソフトウェアエンジニア 東京", "日本語テキスト 中文职位 软件工程师 한국어 개발자 𠀀 𠀁𠀂"),
    ("emoji", "Rockstar 🚀 Developer 👩‍💻", "Join us 😀🎉 — ❤️ c++ node.js 🇩🇪"),
    ("code_tokens", "C++ / C# / Node.JS dev",
     "c++, C++, c#, F#, .NET, ASP.NET, node.js., e-mail, co-op, --flag, +49 30 1234, a.-b c++b a+b x..y "
     "3.14 v2.0.1 a.b.c- c++. c+-d c-+d ##x x## -.- ...python... SQL/Python"),
    ("scripts", "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ１２３ Ⅻ",
     "x² ٣٤ ४२ नमस्ते हिन्दी; ภาษาไทย; Ǆemal ǅ; 𝐁𝐨𝐥𝐝 𝐌𝐚𝐭𝐡 𝐀 b; \u0870\u0871 new letters; "
     "zero\u200dwidth nbsp\u00a0sep soft\u00adhyphen e\u0301 combining"),
    ("stop_words", "THE AND UND DER", "für FÜR über ÜBER the python AND sql Der die DAS"),
    ("null_description", "Python Data Engineer", None),
    ("null_title", None, "python sql warehouse"),
    ("both_null", None, None),
    ("empty", "", ""),
    ("only_junk", "!!! ---", "... +++ ### 😀"),
    ("long", "Long posting", LONG_TEXT),
]


def training_rows(spark, copies: int = 8):
    rows = [
        (f"train-{family}-{copy}", title, f"{description} nummer {copy}", labels, DAY)
        for copy in range(copies) for family, (title, description, labels) in enumerate(FAMILIES)
    ]
    return spark.createDataFrame(rows, POSTING_SCHEMA)


def edge_postings(spark):
    """The edge cases plus the family postings, spread over 3 partitions."""
    rows = [(pid, title, description, None, DAY) for pid, title, description in EDGE_CASES]
    rows += [(f"family-{i}", title, description, None, DAY) for i, (title, description, _) in enumerate(FAMILIES)]
    return spark.createDataFrame(rows, POSTING_SCHEMA).repartition(3)


def fit_model(spark, *, strategy: str, calibration: str, features: FeaturesConfig = FEATURES) -> PipelineModel:
    """Features, classifier and a decision fitted on the training rows (thresholds, calibration,
    parents): the shape of a model the train stage promotes."""
    training = training_rows(spark).cache()
    feature_model = build_feature_pipeline(features, capabilities=NO_JARS).fit(training)
    featured = feature_model.transform(training)
    if strategy == "one_vs_rest":
        estimator = OneVsRestLogistic(labelSpace=LABELS, maxIter=20, regParam=1e-3)
    else:
        estimator = MultiOutputSigmoid(labelSpace=LABELS, maxIter=15, hiddenUnits=4, batchSize=16)
    classifier = estimator.fit(featured)
    scorer = PipelineModel(stages=[*feature_model.stages, classifier])
    validation = scorer.transform(training).select("posting_id", "labels", "scores").cache()
    config = CalibrationConfig(score_calibration=calibration, isotonic_min_samples=10, parent_consistency="all")
    decision, _ = fit_decision(validation, LABELS, config, top_candidates=3, parents=PARENTS)
    validation.unpersist()
    training.unpersist()
    return PipelineModel(stages=[*scorer.stages, decision])


def with_untrained_classifier(feature_model: PipelineModel, postings) -> PipelineModel:
    """A fitted feature pipeline with random classifier weights and a plain decision: enough to
    read a fused plan when only the features matter."""
    width = feature_model.transform(postings).first().features.size
    rng = np.random.default_rng(5)
    arrays = {
        "weights": rng.normal(size=(width, len(LABELS))).astype(np.float32),
        "bias": np.zeros(len(LABELS), np.float32), "logit_offset": np.zeros(len(LABELS), np.float32),
    }
    classifier = OneVsRestLogisticModel(labels=LABELS, arrays=arrays)
    decision = MultiLabelDecision(labels=LABELS, thresholds=[0.5] * len(LABELS))
    return PipelineModel(stages=[*feature_model.stages, classifier, decision])


def gold_maps_as_floats(df):
    """The decision's double maps as the gold table stores them (float)."""
    return df.withColumns({name: F.col(name).cast("map<string,float>") for name in ("tag_scores", "candidate_scores")})
