"""The API actions (CancelTask, DescribeTasks, DescribeTaskAttribute, ImportImage,
ExportImage) and the task <-> API-field shapes, shared by every transport."""
