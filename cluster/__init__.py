"""Where trials run: a private local Ray, a joined cluster, or a SLURM job (slurm_config: the
slurm.yaml schema; slurm_script: the sbatch script; slurm_submit: sbatch and job state;
slurm_job: the Ray boot inside the allocation; ray_nodes: per-job ports), and the dashboard's security."""
