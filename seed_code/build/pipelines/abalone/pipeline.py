"""The abalone SageMaker Pipeline: preprocess -> baseline, train -> package -> evaluate -> MSE gate -> register | fail.

    PreprocessAbaloneData -> BaselineAbaloneDataQuality (Model Monitor data-quality baseline)
                          -> TrainAbaloneModel -> PackageAbaloneModel -> EvaluateAbaloneModel
        -> CheckMseAbaloneEvaluation -> MSE <= MseThreshold: RegisterAbaloneModel (model package)
                                        otherwise:           FailAbaloneModelMse (message has the MSE)

Training is the built-in XGBoost algorithm. PackageAbaloneModel puts the trained booster, the preprocessing
parameters fitted on the training split (preprocessing.json) and the serving script (inference.py) into one
model.tar.gz. That artifact is what the evaluation scores (raw test records through the serving code) and what is
registered: its container is the XGBoost framework image in script mode (SAGEMAKER_PROGRAM /
SAGEMAKER_SUBMIT_DIRECTORY), so the endpoint takes raw abalone records and answers the predicted rings.

The registered package carries its model-quality metrics (evaluation.json) and, in CustomerMetadataProperties
``TestDataS3Uri``, where its held-out raw test records live (label last), so the deploy repository's staging test
can replay them.

BaselineAbaloneDataQuality is the SDK's QualityCheckStep (data quality): the Model Monitor analyzer computes
``statistics.json`` and ``constraints.json`` of the training records as the endpoint receives them (raw, without
the label; ``baseline/baseline.csv`` of the preprocessing, with a header naming the features). Each model version
carries its own baseline: it is registered as the package's ``ModelMetrics`` (``ModelDataQuality``) and
``DriftCheckBaselines``, which the deploy repository's build.py renders into prod's monitoring schedule.
"""

from __future__ import annotations

from pathlib import Path

from sagemaker import image_uris
from sagemaker.drift_check_baselines import DriftCheckBaselines
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.model_monitor.dataset_format import DatasetFormat
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.check_job_config import CheckJobConfig
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

HERE = Path(__file__).resolve().parent
SKLEARN_VERSION = "1.4-2"  # newest scikit-learn processing container the SDK knows
XGBOOST_VERSION = "3.0-5"  # newest built-in XGBoost container the SDK knows
DEFAULT_INPUT_DATA_URL = "s3://sagemaker-sample-files/datasets/tabular/uci_abalone/abalone.csv"
SERVING_PROGRAM = "inference.py"  # the serving script, at code/inference.py in model.tar.gz
# The registered container's environment, as the SDK sets it for a framework model whose code is in model.tar.gz.
SERVING_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": SERVING_PROGRAM,
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    # A request without an Accept header gets CSV (the serving toolkit's own default is application/json).
    "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
}
HYPERPARAMETERS = {
    "objective": "reg:squarederror",
    "num_round": 50,
    "max_depth": 5,
    "eta": 0.2,
    "gamma": 4,
    "min_child_weight": 6,
    "subsample": 0.7,
}


def get_pipeline(
    region: str,
    role: str,
    default_bucket: str,
    pipeline_name: str,
    model_package_group_name: str,
    base_job_prefix: str = "abalone",
    sagemaker_session: PipelineSession | None = None,
) -> Pipeline:
    session = sagemaker_session or PipelineSession(default_bucket=default_bucket)
    prefix = f"s3://{default_bucket}/{base_job_prefix}"

    processing_instance_type = ParameterString("ProcessingInstanceType", default_value="ml.m5.xlarge")
    processing_instance_count = ParameterInteger("ProcessingInstanceCount", default_value=1)
    training_instance_type = ParameterString("TrainingInstanceType", default_value="ml.m5.xlarge")
    training_instance_count = ParameterInteger("TrainingInstanceCount", default_value=1)
    model_approval_status = ParameterString("ModelApprovalStatus", default_value="PendingManualApproval")
    input_data = ParameterString("InputDataUrl", default_value=DEFAULT_INPUT_DATA_URL)
    mse_threshold = ParameterFloat("MseThreshold", default_value=6.0)

    # Outputs go under a per-execution prefix, so a package's test split stays where its metadata says.
    def execution_prefix(name: str) -> Join:
        return Join(on="/", values=[prefix, ExecutionVariables.PIPELINE_EXECUTION_ID, name])

    sklearn_processor = SKLearnProcessor(
        framework_version=SKLEARN_VERSION,
        instance_type=processing_instance_type,
        instance_count=processing_instance_count,
        base_job_name=f"{base_job_prefix}-preprocess",
        sagemaker_session=session,
        role=role,
    )
    step_process = ProcessingStep(
        name="PreprocessAbaloneData",
        step_args=sklearn_processor.run(
            # The data gets its own directory: the SDK mounts this step's code under /opt/ml/processing/input/code.
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input/data")],
            outputs=[
                ProcessingOutput(
                    output_name=name, source=f"/opt/ml/processing/{name}", destination=execution_prefix(name)
                )
                for name in ("train", "validation", "test", "preprocessing", "baseline")
            ],
            code=str(HERE / "preprocess.py"),
            arguments=["--input-dir", "/opt/ml/processing/input/data", "--output-dir", "/opt/ml/processing"],
        ),
    )
    outputs = step_process.properties.ProcessingOutputConfig.Outputs

    # The data-quality baseline of the records the endpoint receives: Model Monitor's analyzer, as a check step.
    step_baseline = QualityCheckStep(
        name="BaselineAbaloneDataQuality",
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=outputs["baseline"].S3Output.S3Uri,
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=execution_prefix("data-quality-baseline"),
        ),
        check_job_config=CheckJobConfig(
            role=role,
            instance_count=1,
            instance_type=processing_instance_type,
            volume_size_in_gb=30,
            sagemaker_session=session,
        ),
        # Each model version gets its own baseline: nothing to compare against here (prod's schedule does that).
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=model_package_group_name,
    )

    image_uri = image_uris.retrieve("xgboost", region=region, version=XGBOOST_VERSION)
    estimator = Estimator(
        image_uri=image_uri,
        instance_type=training_instance_type,
        instance_count=training_instance_count,
        output_path=f"{prefix}/training",
        base_job_name=f"{base_job_prefix}-train",
        sagemaker_session=session,
        role=role,
        hyperparameters=HYPERPARAMETERS,
    )
    step_train = TrainingStep(
        name="TrainAbaloneModel",
        step_args=estimator.fit(
            inputs={
                channel: TrainingInput(s3_data=outputs[channel].S3Output.S3Uri, content_type="text/csv")
                for channel in ("train", "validation")
            }
        ),
    )

    packager = ScriptProcessor(
        image_uri=image_uri,
        command=["python3"],
        instance_type=processing_instance_type,
        instance_count=1,
        base_job_name=f"{base_job_prefix}-package",
        sagemaker_session=session,
        role=role,
    )
    step_package = ProcessingStep(
        name="PackageAbaloneModel",
        step_args=packager.run(
            inputs=[
                ProcessingInput(
                    source=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination="/opt/ml/processing/model",
                ),
                ProcessingInput(
                    source=outputs["preprocessing"].S3Output.S3Uri,
                    destination="/opt/ml/processing/preprocessing",
                ),
                ProcessingInput(
                    source=str(HERE / SERVING_PROGRAM), destination="/opt/ml/processing/serving-code"
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="model",
                    source="/opt/ml/processing/packaged",
                    destination=execution_prefix("model"),
                )
            ],
            code=str(HERE / "package.py"),
            arguments=[
                "--model-dir",
                "/opt/ml/processing/model",
                "--preprocessing-dir",
                "/opt/ml/processing/preprocessing",
                "--code-dir",
                "/opt/ml/processing/serving-code",
                "--program",
                SERVING_PROGRAM,
                "--output-dir",
                "/opt/ml/processing/packaged",
            ],
        ),
    )
    packaged_model = step_package.properties.ProcessingOutputConfig.Outputs["model"].S3Output.S3Uri

    evaluation_report = PropertyFile(
        name="AbaloneEvaluationReport", output_name="evaluation", path="evaluation.json"
    )
    evaluator = ScriptProcessor(
        image_uri=image_uri,
        command=["python3"],
        instance_type=processing_instance_type,
        instance_count=1,
        base_job_name=f"{base_job_prefix}-evaluate",
        sagemaker_session=session,
        role=role,
    )
    step_eval = ProcessingStep(
        name="EvaluateAbaloneModel",
        step_args=evaluator.run(
            inputs=[
                ProcessingInput(source=packaged_model, destination="/opt/ml/processing/model"),
                ProcessingInput(source=outputs["test"].S3Output.S3Uri, destination="/opt/ml/processing/test"),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    source="/opt/ml/processing/evaluation",
                    destination=execution_prefix("evaluation"),
                )
            ],
            code=str(HERE / "evaluate.py"),
            arguments=[
                "--model-dir",
                "/opt/ml/processing/model",
                "--test-dir",
                "/opt/ml/processing/test",
                "--output-dir",
                "/opt/ml/processing/evaluation",
                "--program",
                SERVING_PROGRAM,
            ],
        ),
        property_files=[evaluation_report],
    )

    baseline = step_baseline.properties
    model_metrics = ModelMetrics(
        model_statistics=MetricsSource(
            s3_uri=Join(on="/", values=[execution_prefix("evaluation"), "evaluation.json"]),
            content_type="application/json",
        ),
        model_data_statistics=MetricsSource(
            s3_uri=baseline.CalculatedBaselineStatistics, content_type="application/json"
        ),
        model_data_constraints=MetricsSource(
            s3_uri=baseline.CalculatedBaselineConstraints, content_type="application/json"
        ),
    )
    drift_check_baselines = DriftCheckBaselines(
        model_data_statistics=MetricsSource(
            s3_uri=baseline.BaselineUsedForDriftCheckStatistics, content_type="application/json"
        ),
        model_data_constraints=MetricsSource(
            s3_uri=baseline.BaselineUsedForDriftCheckConstraints, content_type="application/json"
        ),
    )
    # The packaged artifact, served by the XGBoost framework container in script mode (one container: serverless
    # endpoints do not support inference pipelines).
    model = Model(
        image_uri=image_uri,
        model_data=Join(on="/", values=[packaged_model, "model.tar.gz"]),
        env={**SERVING_ENVIRONMENT, "SAGEMAKER_REGION": region},
        sagemaker_session=session,
        role=role,
    )
    step_register = ModelStep(
        name="RegisterAbaloneModel",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv", "application/json"],
            inference_instances=["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=model_package_group_name,
            approval_status=model_approval_status,
            model_metrics=model_metrics,
            drift_check_baselines=drift_check_baselines,
            customer_metadata_properties={
                "TestDataS3Uri": Join(on="/", values=[execution_prefix("test"), "test.csv"]),
            },
            description="Abalone ring-count regressor (XGBoost, raw records in), registered by the build pipeline",
        ),
    )

    mse = JsonGet(
        step_name=step_eval.name, property_file=evaluation_report, json_path="regression_metrics.mse.value"
    )
    step_fail = FailStep(
        name="FailAbaloneModelMse",
        error_message=Join(
            on=" ", values=["Model not registered: test MSE", mse, "is above MseThreshold", mse_threshold]
        ),
    )
    step_condition = ConditionStep(
        name="CheckMseAbaloneEvaluation",
        conditions=[ConditionLessThanOrEqualTo(left=mse, right=mse_threshold)],
        if_steps=[step_register],
        else_steps=[step_fail],
    )

    return Pipeline(
        name=pipeline_name,
        parameters=[
            processing_instance_type,
            processing_instance_count,
            training_instance_type,
            training_instance_count,
            model_approval_status,
            input_data,
            mse_threshold,
        ],
        steps=[step_process, step_baseline, step_train, step_package, step_eval, step_condition],
        sagemaker_session=session,
    )
