//! IATI 2.03 activity XML export (DOMAIN.md §6). Filled in on branch `iati`.
