//! `neo schema ...`: the contract registry from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use neo_domain::Issue;
use neo_domain::schema::{SchemaEntry, breaking_changes, find, registry};
use serde_json::Value;

/// Where the checked-in schemas live, relative to the repository root.
const SCHEMA_DIR: &str = "schemas/v1";

#[derive(Subcommand)]
pub(crate) enum SchemaCommand {
    /// List the contracts.
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a contract's JSON Schema.
    Show {
        /// Contract name, e.g. SignalEventV1.
        name: String,
    },
    /// Validate a JSON document against a contract; prints every problem with its path.
    Validate {
        /// Contract name, e.g. SignalEventV1.
        name: String,
        /// The document (`-` for standard input).
        file: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write every schema to schemas/v1, refusing changes that break v1 readers.
    Generate {
        /// Target directory.
        #[arg(long, default_value = SCHEMA_DIR)]
        dir: PathBuf,
        /// Only compare: exit 1 when a file differs from the generated schema.
        #[arg(long)]
        check: bool,
    },
    /// List the changes from OLD to NEW that would refuse documents OLD accepted.
    Compat {
        /// The schema before.
        old: PathBuf,
        /// The schema after.
        new: PathBuf,
    },
}

pub(crate) fn run(command: SchemaCommand) -> Result<ExitCode> {
    match command {
        SchemaCommand::List { json } => {
            for e in registry() {
                if json {
                    let line = serde_json::json!({"name": e.name, "about": e.about, "subjects": e.subjects});
                    println!("{line}");
                } else {
                    println!("{:<16} {:<26} {}", e.name, e.subjects, e.about);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SchemaCommand::Show { name } => {
            print!("{}", entry(&name)?.render());
            Ok(ExitCode::SUCCESS)
        }
        SchemaCommand::Validate { name, file, json } => validate(entry(&name)?, &file, json),
        SchemaCommand::Generate { dir, check } => generate(&dir, check),
        SchemaCommand::Compat { old, new } => {
            let changes = breaking_changes(&read_json(&old)?, &read_json(&new)?);
            for change in &changes {
                println!("{change}");
            }
            if changes.is_empty() {
                println!("compatible");
                return Ok(ExitCode::SUCCESS);
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

fn entry(name: &str) -> Result<&'static SchemaEntry> {
    find(name).with_context(|| {
        let known: Vec<&str> = registry().iter().map(|e| e.name).collect();
        format!("no contract named {name:?}; known: {}", known.join(", "))
    })
}

fn read_text(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        return std::io::read_to_string(std::io::stdin()).context("reading standard input");
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_json(path: &Path) -> Result<Value> {
    serde_json::from_str(&read_text(path)?)
        .with_context(|| format!("{} is not JSON", path.display()))
}

fn validate(entry: &SchemaEntry, file: &Path, json: bool) -> Result<ExitCode> {
    let text = read_text(file)?;
    let issues = match serde_json::from_str::<Value>(&text) {
        Ok(doc) => entry.validate(&doc)?,
        Err(e) => vec![Issue::new("", format!("not JSON: {e}"))],
    };
    if json {
        let out =
            serde_json::json!({"type": entry.name, "valid": issues.is_empty(), "issues": issues});
        println!("{out}");
    } else if issues.is_empty() {
        println!("{}: valid {}", file.display(), entry.name);
    } else {
        let count = issues.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        println!(
            "{}: invalid {} ({count} {noun})",
            file.display(),
            entry.name
        );
        for issue in &issues {
            println!("  {issue}");
        }
    }
    Ok(if issues.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn generate(dir: &Path, check: bool) -> Result<ExitCode> {
    if !check {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut drifted = Vec::new();
    let mut breaking = Vec::new();
    for e in registry() {
        let path = dir.join(e.file_name());
        let rendered = e.render();
        let existing = std::fs::read_to_string(&path).ok();
        if existing.as_deref() == Some(rendered.as_str()) {
            continue;
        }
        drifted.push(path.clone());
        if let Some(old) = existing
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
        {
            for change in breaking_changes(&old, &e.schema()) {
                breaking.push(format!("{}{change}", e.name));
            }
        }
    }
    if !breaking.is_empty() {
        println!("refusing: these changes break v1 readers (add a V2 contract instead):");
        breaking.iter().for_each(|b| println!("  {b}"));
        return Ok(ExitCode::FAILURE);
    }
    if check {
        for path in &drifted {
            println!("{} differs from the generated schema", path.display());
        }
        let strays = stray_files(dir);
        for name in &strays {
            println!("{name} is generated by no contract");
        }
        if !drifted.is_empty() || !strays.is_empty() {
            println!("regenerate with: cargo run -p neo -- schema generate");
            return Ok(ExitCode::FAILURE);
        }
        println!("{} schemas up to date", registry().len());
        return Ok(ExitCode::SUCCESS);
    }
    for e in registry() {
        let path = dir.join(e.file_name());
        if drifted.contains(&path) {
            std::fs::write(&path, e.render())
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    if drifted.is_empty() {
        println!("{} schemas up to date", registry().len());
    }
    for name in stray_files(dir) {
        println!("warning: {name} is generated by no contract; delete it if the type was renamed");
    }
    Ok(ExitCode::SUCCESS)
}

/// Files in the schema directory that no contract generates (a renamed type leaves one).
fn stray_files(dir: &Path) -> Vec<String> {
    let known: Vec<String> = registry().iter().map(SchemaEntry::file_name).collect();
    let Ok(items) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    items
        .filter_map(|item| Some(item.ok()?.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".schema.json") && !known.contains(name))
        .collect()
}
