"""What reviewers work from after a run: decisions, the HTML report, export and publish."""
