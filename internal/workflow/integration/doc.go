// Package integration calls AWS service integrations of Task states —
// the optimised ones (arn:aws:states:::lambda:invoke, sqs:sendMessage,
// sns:publish, dynamodb:getItem|putItem|updateItem|deleteItem) and the
// generic arn:aws:states:::aws-sdk:SERVICE:action ones — against AWS or
// an AWS-compatible endpoint (LocalStack, MinIO, ...) through
// aws-sdk-go-v2, with the parameter and result shapes and the error names
// Step Functions documents. It also reads Distributed Map items from S3.
package integration
