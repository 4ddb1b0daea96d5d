// Package integration calls AWS service integrations of Task states —
// the optimised ones (arn:aws:states:::lambda:invoke, sqs:sendMessage,
// sns:publish, dynamodb:getItem|putItem|updateItem|deleteItem) and the
// generic arn:aws:states:::aws-sdk:SERVICE:action ones — against AWS or
// an AWS-compatible endpoint (LocalStack, MinIO, ...), with the parameter
// and result shapes and the error names Step Functions documents. It
// also reads Distributed Map items from S3.
//
// It speaks to the services itself rather than through an AWS SDK, whose
// packages cost every velocity process milliseconds of initialisation
// and megabytes of binary: Signature Version 4 (sigv4.go), credentials
// and region from the AWS environment variables and shared files
// (credentials.go) or a role's from the container and instance metadata
// endpoints (metadata.go, refreshed by refresh.go), retries (transport.go), and the JSON, REST-JSON,
// query and REST-XML protocols of the operations it offers
// (protocol.go). What the operations take and give (shapes_gen.go) is
// generated from the AWS SDK for Go's types by a test, which keeps it in
// step with the SDK.
package integration
