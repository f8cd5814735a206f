"""The killed-worker tests' rq worker class: AppWorker with every job in a forked work horse,
whichever queue it comes from, so a test can kill the horse of any job (a delivery of the
`high` queue too) and leave the worker to see it die and have rq retry the job."""
from rq import Worker

from workers.runtime import AppWorker


class ForkingAppWorker(AppWorker):
    def execute_job(self, job, queue):
        return Worker.execute_job(self, job, queue)
