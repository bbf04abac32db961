//! CloudFormation custom-resource contract (being written).
