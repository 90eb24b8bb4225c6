"""The readiness probe reaches the database on every tier."""


def test_readyz_pings_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["success"] is True
