//! Choosing what runs: `--shard K/N` over files, `--tag`/`--skip-tag`/`--step` over requests.

use std::path::PathBuf;

use crate::cli::Filter;
use crate::model::Role;
use crate::plan::Plan;

/// The files of shard `k` of `n` (1-based): every n-th file, so each file lands in
/// exactly one shard whatever the order of the jobs, and shards stay balanced.
pub fn shard(files: Vec<PathBuf>, k: usize, n: usize) -> Vec<PathBuf> {
    files.into_iter().enumerate().filter(|(i, _)| i % n == k - 1).map(|(_, f)| f).collect()
}

/// Marks the requests of `plan` that `filter` keeps, plus the requests they depend on;
/// auth steps always run. Returns whether any request is left to run.
pub fn select(plan: &mut Plan<'_>, filter: &Filter) -> bool {
    let has = |tags: &[String], wanted: &[String]| tags.iter().any(|t| wanted.contains(t));
    if has(&plan.tags, &filter.skip_tags) {
        plan.selected.iter_mut().for_each(|s| *s = false);
        return false;
    }
    let mut keep: Vec<bool> = plan
        .steps
        .iter()
        .map(|ps| {
            let step = &ps.step;
            if step.role == Role::Auth {
                return true;
            }
            let all_tags: Vec<String> = plan.tags.iter().chain(step.tags.iter()).cloned().collect();
            (filter.tags.is_empty() || has(&all_tags, &filter.tags))
                && !has(&step.tags, &filter.skip_tags)
                && (filter.steps.is_empty() || filter.steps.contains(&step.name))
        })
        .collect();
    // A kept request needs the requests that capture its inputs.
    let mut changed = true;
    while changed {
        changed = false;
        for ps in &plan.steps {
            if keep[ps.index] {
                for need in &ps.needs {
                    if !keep[need.from] {
                        keep[need.from] = true;
                        changed = true;
                    }
                }
            }
        }
    }
    let any = plan.steps.iter().any(|ps| keep[ps.index] && ps.step.role == Role::Request);
    plan.selected = keep;
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_file_exactly_once() {
        let files: Vec<PathBuf> = (0..11).map(|i| PathBuf::from(format!("{i:02}.yaml"))).collect();
        for n in 1..=5 {
            let mut seen: Vec<PathBuf> = (1..=n).flat_map(|k| shard(files.clone(), k, n)).collect();
            seen.sort();
            assert_eq!(seen, files, "{n} shards");
            let sizes: Vec<usize> = (1..=n).map(|k| shard(files.clone(), k, n).len()).collect();
            assert!(sizes.iter().max().unwrap_or(&0) - sizes.iter().min().unwrap_or(&0) <= 1, "{sizes:?}");
        }
    }

    fn names(files: Vec<PathBuf>) -> Vec<String> {
        files.iter().map(|f| f.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn shard_k_takes_every_nth_file_from_position_k_keeping_the_order() {
        let files: Vec<PathBuf> = ["a", "b", "c", "d", "e"].iter().map(PathBuf::from).collect();
        assert_eq!(names(shard(files.clone(), 1, 1)), ["a", "b", "c", "d", "e"]);
        assert_eq!(names(shard(files.clone(), 2, 3)), ["b", "e"]);
        assert_eq!(names(shard(files, 3, 3)), ["c"]);
    }

    #[test]
    fn more_shards_than_files_leaves_the_last_shards_empty() {
        let files: Vec<PathBuf> = ["a", "b"].iter().map(PathBuf::from).collect();
        assert_eq!(names(shard(files.clone(), 2, 4)), ["b"]);
        assert!(shard(files.clone(), 3, 4).is_empty());
        assert!(shard(Vec::new(), 1, 2).is_empty());
    }
}
