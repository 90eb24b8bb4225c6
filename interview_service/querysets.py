"""QuerySet steps the modules' documents share, and cursors read in batches."""

from bson import ObjectId
from bson.errors import InvalidId
from mongoengine import QuerySet

from interview_service.errors import NotFound


def in_batches(items, size):
    """`items` (a cursor, say) in lists of `size`."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class OwnedQuerySet(QuerySet):
    """Queries on documents that belong to one user (their `user_id`)."""

    NOT_FOUND = "Not found"

    def owned_by(self, user):
        """The documents of `user`."""
        return self.filter(user_id=user)

    def get_owned(self, user, object_id):
        """The document `object_id` of `user`; NotFound when missing, another's, or an id that
        cannot exist."""
        try:
            object_id = ObjectId(object_id)
        except (InvalidId, TypeError):
            raise NotFound(self.NOT_FOUND) from None
        # By _id alone, the owner compared here: SecantusDB's Rust server answers an _id lookup
        # from its index but scans the collection for _id and another field.
        document = self.filter(id=object_id).first()
        if document is None or document.user_id != user:
            raise NotFound(self.NOT_FOUND)
        return document
