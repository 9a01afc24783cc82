//! Template values and the build variables (`.Branch`, `.Time`, …), typed as jet's Go struct.

/// Go integer types that can reach a template; the name shows in `%!d(int64=…)` style output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntTy {
    Int,
    Int64,
    Uint8,
    Int32,
    Month,
    Weekday,
}

impl IntTy {
    pub fn go_name(self) -> &'static str {
        match self {
            IntTy::Int => "int",
            IntTy::Int64 => "int64",
            IntTy::Uint8 => "uint8",
            IntTy::Int32 => "int32",
            IntTy::Month => "time.Month",
            IntTy::Weekday => "time.Weekday",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64, IntTy),
    Float(f64),
    Bool(bool),
    /// A UTC instant: unix seconds and nanoseconds.
    Time(i64, u32),
    /// The template's root data (`.`).
    Data,
    /// A nil interface: what a literal `nil` is to `print`, `printf` and `println`.
    Nil,
    /// Go's invalid `reflect.Value`: a literal `nil` given to a builtin that takes
    /// `reflect.Value`s (`and`, `eq`, `not`, …), and what `and`/`or` may return. It prints
    /// as `<no value>`.
    Invalid,
}

impl Value {
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_, t) => t.go_name(),
            Value::Float(_) => "float64",
            Value::Bool(_) => "bool",
            Value::Time(..) => "time.Time",
            Value::Data => "main.Data",
            Value::Nil | Value::Invalid => "<nil>",
        }
    }

    /// Bytes the value holds, for the execution work bound.
    pub fn size(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            _ => std::mem::size_of::<Value>(),
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil | Value::Invalid)
    }

    /// Go's template truth: the zero value of a type is false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Int(i, _) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Bool(b) => *b,
            Value::Time(..) | Value::Data => true,
            Value::Nil | Value::Invalid => false,
        }
    }
}

/// The build values a template can use. Field names and types mirror jet's Go struct
/// (`tools/go-conformance/main.go` holds the same struct for the conformance table).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct BuildVars {
    pub project_id: String,
    pub build_id: String,
    pub repo_name: String,
    pub branch: String,
    pub commit_id: String,
    pub commit_message: String,
    pub commit_description: String,
    pub committer_name: String,
    pub committer_email: String,
    pub committer_username: String,
    /// Unix seconds of the build time; `.Time` and `.StringTime` derive from it.
    pub timestamp: i64,
    pub step_name: String,
    pub service_name: String,
    pub image_name: String,
    pub ci_name: String,
}

/// Every variable of the root data, for validation and suggestions.
pub const VARIABLES: &[&str] = &[
    "ProjectID",
    "BuildID",
    "RepoName",
    "Branch",
    "CommitID",
    "CommitMessage",
    "CommitDescription",
    "CommitterName",
    "CommitterEmail",
    "CommitterUsername",
    "Time",
    "Timestamp",
    "StringTime",
    "StepName",
    "ServiceName",
    "ImageName",
    "Ci",
    "CiName",
];

impl BuildVars {
    pub fn field(&self, name: &str) -> Option<Value> {
        let s = |v: &String| Some(Value::Str(v.clone()));
        match name {
            "ProjectID" => s(&self.project_id),
            "BuildID" => s(&self.build_id),
            "RepoName" => s(&self.repo_name),
            "Branch" => s(&self.branch),
            "CommitID" => s(&self.commit_id),
            "CommitMessage" => s(&self.commit_message),
            "CommitDescription" => s(&self.commit_description),
            "CommitterName" => s(&self.committer_name),
            "CommitterEmail" => s(&self.committer_email),
            "CommitterUsername" => s(&self.committer_username),
            "Time" => Some(Value::Time(self.timestamp, 0)),
            "Timestamp" => Some(Value::Int(self.timestamp, IntTy::Int64)),
            "StringTime" => Some(Value::Str(self.string_time())),
            "StepName" => s(&self.step_name),
            "ServiceName" => s(&self.service_name),
            "ImageName" => s(&self.image_name),
            "Ci" => Some(Value::Str("true".into())),
            "CiName" => {
                Some(Value::Str(if self.ci_name.is_empty() { "codeship".into() } else { self.ci_name.clone() }))
            }
            _ => None,
        }
    }

    /// `.StringTime`: the build time as Go's `time.Time.String()` prints it (in UTC).
    pub fn string_time(&self) -> String {
        super::timefmt::format(self.timestamp, 0, super::timefmt::STRING_LAYOUT)
    }
}
