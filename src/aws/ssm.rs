//! [`ParameterStore`] on SSM Parameter Store.

use async_trait::async_trait;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterType;

use super::adapter_error;
use crate::ports::{AdapterError, Created, ParameterStore};

/// SSM Parameter Store. Decisions, votes and gate records are plain `String` parameters; secrets
/// are read decrypted.
#[derive(Debug, Clone)]
pub struct SsmParameterStore {
    client: Client,
}

impl SsmParameterStore {
    pub fn new(client: Client) -> Self {
        SsmParameterStore { client }
    }
}

#[async_trait]
impl ParameterStore for SsmParameterStore {
    async fn get(&self, name: &str) -> Result<Option<String>, AdapterError> {
        match self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(output) => Ok(output.parameter.and_then(|parameter| parameter.value)),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(err) => Err(adapter_error("ssm:GetParameter", &err)),
        }
    }

    async fn create(&self, name: &str, value: &str) -> Result<Created, AdapterError> {
        let result = self
            .client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(false)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::New),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_parameter_already_exists()) =>
            {
                Ok(Created::AlreadyExisted)
            }
            Err(err) => Err(adapter_error("ssm:PutParameter", &err)),
        }
    }

    async fn overwrite(&self, name: &str, value: &str) -> Result<(), AdapterError> {
        self.client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| adapter_error("ssm:PutParameter", &err))
    }

    async fn delete(&self, name: &str) -> Result<(), AdapterError> {
        match self.client.delete_parameter().name(name).send().await {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found()) =>
            {
                Ok(())
            }
            Err(err) => Err(adapter_error("ssm:DeleteParameter", &err)),
        }
    }

    async fn list(&self, path: &str) -> Result<Vec<(String, String)>, AdapterError> {
        let mut pages = self
            .client
            .get_parameters_by_path()
            .path(path)
            .recursive(true)
            .with_decryption(true)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| adapter_error("ssm:GetParametersByPath", &err))?;
            for parameter in page.parameters.unwrap_or_default() {
                if let (Some(name), Some(value)) = (parameter.name, parameter.value) {
                    found.push((name, value));
                }
            }
        }
        Ok(found)
    }
}
